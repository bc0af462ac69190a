// The `--acl-file`: Mosquitto's ACL file, read as is.
//
//   # comment (first character '#'); blank lines are ignored
//   topic [read|write|readwrite|deny] <filter>     rules before the first `user` line: anonymous clients
//   user <username>                                the `topic` lines after it are that user's
//   pattern [read|write|readwrite|deny] <filter>   every client; %c = client id, %u = user name
//
// The access word is optional (readwrite), unless the filter contains a space. As in Mosquitto,
// `deny` rules are checked before the others of their list, and otherwise the first rule whose
// filter matches and grants the access decides (topic-acl.ts). Anything else in the file is an
// error naming the line: at start-up the node does not start, on SIGHUP the old rules stay.

import { validateTopicFilter } from '../routing/topic.js';
import { FileLineError } from './user-file-format.js';

/** Access bits, as Mosquitto's MOSQ_ACL_READ / MOSQ_ACL_WRITE; 0 is `deny`. */
export const ACL_READ = 1;
export const ACL_WRITE = 2;
export const ACL_DENY = 0;

export interface AclRule {
  /** ACL_READ | ACL_WRITE bits, or ACL_DENY. */
  readonly access: number;
  /** As written (patterns: before %c / %u substitution). */
  readonly filter: string;
  /** `filter` split on '/' (topics: used for matching as is). */
  readonly levels: readonly string[];
  /** Patterns only: the filter uses %u, so it never applies to a client without a user name. */
  readonly usesUser: boolean;
}

export interface AclRules {
  /** The `topic` rules before the first `user` line, for clients without a user name. Deny first. */
  readonly anonymous: readonly AclRule[];
  /** Each user's `topic` rules, deny first. */
  readonly users: ReadonlyMap<string, readonly AclRule[]>;
  /** `pattern` rules, deny first. */
  readonly patterns: readonly AclRule[];
}

/** A line of an ACL file that cannot be read; `line` counts from 1. */
export class AclFileFormatError extends FileLineError {
  override readonly name = 'AclFileFormatError';
}

const ACCESS_WORDS: ReadonlyMap<string, number> = new Map([
  ['read', ACL_READ],
  ['write', ACL_WRITE],
  ['readwrite', ACL_READ | ACL_WRITE],
  ['deny', ACL_DENY],
]);

/** The rules of a file's text. Throws AclFileFormatError naming the first bad line. */
export function parseAclFile(text: string): AclRules {
  const anonymous: AclRule[] = [];
  const users = new Map<string, AclRule[]>();
  const patterns: AclRule[] = [];
  let current: AclRule[] = anonymous;
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const n = i + 1;
    const line = lines[i]!.trimEnd();
    if (line === '' || line.startsWith('#')) continue;
    const space = line.indexOf(' ');
    const keyword = space < 0 ? line : line.slice(0, space);
    const rest = space < 0 ? '' : line.slice(space + 1).trim();
    if (keyword === 'user') {
      if (rest === '') throw new AclFileFormatError(n, "'user' without a user name");
      current = users.get(rest) ?? [];
      users.set(rest, current);
      continue;
    }
    if (keyword !== 'topic' && keyword !== 'pattern') {
      throw new AclFileFormatError(n, `unknown keyword ${JSON.stringify(keyword)}; expected 'user', 'topic' or 'pattern'`);
    }
    if (rest === '') throw new AclFileFormatError(n, `'${keyword}' without a topic filter`);
    const sp = rest.indexOf(' ');
    let access = ACL_READ | ACL_WRITE;
    let filter = rest;
    if (sp >= 0) {
      // Mosquitto: the first word is the access type whenever a second word follows.
      const word = rest.slice(0, sp);
      const known = ACCESS_WORDS.get(word);
      if (known === undefined) throw new AclFileFormatError(n, `access ${JSON.stringify(word)}: expected read, write, readwrite or deny`);
      access = known;
      filter = rest.slice(sp + 1).trim();
    }
    const problem = validateTopicFilter(filter);
    if (problem !== null) throw new AclFileFormatError(n, `filter ${JSON.stringify(filter)}: ${problem}`);
    const rule: AclRule = { access, filter, levels: filter.split('/'), usesUser: keyword === 'pattern' && filter.includes('%u') };
    add(keyword === 'pattern' ? patterns : current, rule);
  }
  return { anonymous, users, patterns };
}

/** Mosquitto's add__acl: deny rules go before the list's others, each kind in file order. */
function add(list: AclRule[], rule: AclRule): void {
  if (rule.access !== ACL_DENY) {
    list.push(rule);
    return;
  }
  const firstGrant = list.findIndex((r) => r.access !== ACL_DENY);
  if (firstGrant < 0) list.push(rule);
  else list.splice(firstGrant, 0, rule);
}
