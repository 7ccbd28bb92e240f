/**
 * @module auth
 * Credentials for SMTP AUTH (RFC 4954): the SASL user file and its maintenance.
 */
export {
  PasswdFile, PasswdError, addUser, removeUser, hashPassword, userProblem, passwordProblem, SCRYPT_DEFAULTS,
  type PasswdErrorKind, type PasswdFileOptions,
} from './passwd.js';
