// The enhanced authentication methods a node's configuration asks for: SCRAM-SHA-256 when
// `scramUsers` names a users file, nothing otherwise (every Authentication Method then gets 0x8C).

import type { ShoalConfig } from '../config/options.js';
import { AuthMethods } from './enhanced-auth.js';
import { ScramSha256Method } from './scram-method.js';
import { loadScramUsers } from './scram-users.js';

/**
 * Reads the files the methods need. Throws ConfigError for a missing or malformed file; `source`
 * says where the scramUsers setting came from (`flag --scram-users`, ...).
 */
export function configuredAuthMethods(config: Pick<ShoalConfig, 'scramUsers'>, source = 'config'): AuthMethods {
  if (config.scramUsers === '') return new AuthMethods();
  return new AuthMethods([new ScramSha256Method(loadScramUsers(config.scramUsers, source))]);
}
