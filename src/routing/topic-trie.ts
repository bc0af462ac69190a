// A trie of topic filters, one node per filter level, holding (key → value) entries at the node
// where a filter ends. match() walks it once per PUBLISH: it keeps the topic's levels in a scratch
// array reused across calls and reports hits to a visitor object, so the hot path creates no
// closures and no arrays (only the level substrings that the Map lookups need).

import { ReentrantMatchError } from './errors.js';

/** Receives every (key, value) whose filter matches the topic; an object, not a callback, so
 * callers keep one instance instead of creating a closure per message. */
export interface TrieVisitor<V> {
  visit(key: string, value: V, filter: string): void;
}

/** Keys and values in parallel arrays plus a key → slot index: match() iterates with a plain
 * indexed loop (a Map iterator would allocate an iterator and an entry array per hit). */
class EntrySet<V> {
  readonly keys: string[] = [];
  readonly values: V[] = [];
  private readonly slots = new Map<string, number>();

  get size(): number {
    return this.keys.length;
  }

  get(key: string): V | undefined {
    const slot = this.slots.get(key);
    return slot === undefined ? undefined : this.values[slot];
  }

  /** True if the key is new. */
  set(key: string, value: V): boolean {
    const slot = this.slots.get(key);
    if (slot !== undefined) {
      this.values[slot] = value;
      return false;
    }
    this.slots.set(key, this.keys.length);
    this.keys.push(key);
    this.values.push(value);
    return true;
  }

  /** Swap-removes, so iteration order is not insertion order. */
  delete(key: string): boolean {
    const slot = this.slots.get(key);
    if (slot === undefined) return false;
    const last = this.keys.length - 1;
    if (slot !== last) {
      const movedKey = this.keys[last]!;
      this.keys[slot] = movedKey;
      this.values[slot] = this.values[last]!;
      this.slots.set(movedKey, slot);
    }
    this.keys.pop();
    this.values.pop();
    this.slots.delete(key);
    return true;
  }
}

class TrieNode<V> {
  /** Literal child levels; `+` and `#` have their own slots so match() needs no lookups for them. */
  children: Map<string, TrieNode<V>> | null = null;
  plus: TrieNode<V> | null = null;
  hash: TrieNode<V> | null = null;
  /** Entries of the filter that ends here; null while there are none, to keep inner nodes small. */
  entries: EntrySet<V> | null = null;
  /** The filter ending at this node; meaningful only while `entries` is non-null. */
  filter = '';

  constructor(
    readonly parent: TrieNode<V> | null,
    readonly level: string,
  ) {}

  isPrunable(): boolean {
    return this.entries === null && this.plus === null && this.hash === null && this.children === null;
  }
}

const DOLLAR = 0x24;

export class TopicTrie<V> {
  private readonly root = new TrieNode<V>(null, '');
  private entryCount = 0;
  /** Scratch for match(): the current topic's levels, valid up to `levelCount`. */
  private readonly levels: string[] = [];
  private levelCount = 0;
  private matching = false;

  /** Number of (filter, key) entries. */
  get size(): number {
    return this.entryCount;
  }

  /** Adds or replaces the value for (filter, key); true if the entry is new. */
  set(filter: string, key: string, value: V): boolean {
    if (this.matching) throw new ReentrantMatchError(filter);
    let node = this.root;
    for (const level of filter.split('/')) {
      node = this.childFor(node, level);
    }
    if (node.entries === null) {
      node.entries = new EntrySet();
      node.filter = filter;
    }
    const isNew = node.entries.set(key, value);
    if (isNew) this.entryCount++;
    return isNew;
  }

  get(filter: string, key: string): V | undefined {
    return this.find(filter)?.entries?.get(key);
  }

  /** Removes (filter, key) and prunes nodes left without entries or children; true if it existed. */
  delete(filter: string, key: string): boolean {
    if (this.matching) throw new ReentrantMatchError(filter);
    const node = this.find(filter);
    if (node === null || node.entries === null || !node.entries.delete(key)) return false;
    this.entryCount--;
    if (node.entries.size === 0) {
      node.entries = null;
      node.filter = '';
    }
    this.prune(node);
    return true;
  }

  /**
   * Calls `visitor.visit` once for every entry whose filter matches `topic` (MQTT 5.0 §4.7).
   * Not re-entrant: the visitor must not call match(), set() or delete() on the same trie.
   */
  match(topic: string, visitor: TrieVisitor<V>): void {
    if (this.matching) throw new ReentrantMatchError(topic);
    this.matching = true;
    try {
      this.splitTopic(topic);
      // Wildcards at the first level never match `$` topics [MQTT-4.7.2-1].
      this.matchFrom(this.root, 0, topic.charCodeAt(0) === DOLLAR, visitor);
    } finally {
      this.matching = false;
    }
  }

  /** Number of nodes including the root; 1 for an empty trie, so tests can detect leaked nodes. */
  nodeCount(): number {
    let count = 0;
    const stack: TrieNode<V>[] = [this.root];
    for (let node = stack.pop(); node !== undefined; node = stack.pop()) {
      count++;
      if (node.plus !== null) stack.push(node.plus);
      if (node.hash !== null) stack.push(node.hash);
      if (node.children !== null) for (const child of node.children.values()) stack.push(child);
    }
    return count;
  }

  *entries(): IterableIterator<[filter: string, key: string, value: V]> {
    const stack: TrieNode<V>[] = [this.root];
    for (let node = stack.pop(); node !== undefined; node = stack.pop()) {
      const entries = node.entries;
      if (entries !== null) {
        for (let i = 0; i < entries.size; i++) yield [node.filter, entries.keys[i]!, entries.values[i]!];
      }
      if (node.plus !== null) stack.push(node.plus);
      if (node.hash !== null) stack.push(node.hash);
      if (node.children !== null) for (const child of node.children.values()) stack.push(child);
    }
  }

  private matchFrom(node: TrieNode<V>, depth: number, sys: boolean, visitor: TrieVisitor<V>): void {
    if (depth === this.levelCount) {
      visitEntries(node, visitor);
      // `#` also matches its parent level: `sport/#` matches `sport` [MQTT-4.7.1-2].
      if (node.hash !== null) visitEntries(node.hash, visitor);
      return;
    }
    const wildcardsAllowed = depth > 0 || !sys;
    if (wildcardsAllowed) {
      if (node.hash !== null) visitEntries(node.hash, visitor);
      // `+` matches exactly one level, empty levels included.
      if (node.plus !== null) this.matchFrom(node.plus, depth + 1, sys, visitor);
    }
    const child = node.children?.get(this.levels[depth]!);
    if (child !== undefined) this.matchFrom(child, depth + 1, sys, visitor);
  }

  private splitTopic(topic: string): void {
    const levels = this.levels;
    let count = 0;
    let start = 0;
    for (let slash = topic.indexOf('/'); slash >= 0; slash = topic.indexOf('/', start)) {
      levels[count++] = topic.slice(start, slash);
      start = slash + 1;
    }
    levels[count++] = topic.slice(start);
    this.levelCount = count;
  }

  private childFor(node: TrieNode<V>, level: string): TrieNode<V> {
    if (level === '+') return (node.plus ??= new TrieNode(node, level));
    if (level === '#') return (node.hash ??= new TrieNode(node, level));
    node.children ??= new Map();
    let child = node.children.get(level);
    if (child === undefined) {
      child = new TrieNode(node, level);
      node.children.set(level, child);
    }
    return child;
  }

  private find(filter: string): TrieNode<V> | null {
    let node: TrieNode<V> | null | undefined = this.root;
    for (const level of filter.split('/')) {
      if (level === '+') node = node.plus;
      else if (level === '#') node = node.hash;
      else node = node.children?.get(level);
      if (node === null || node === undefined) return null;
    }
    return node;
  }

  private prune(from: TrieNode<V>): void {
    let node = from;
    while (node.parent !== null && node.isPrunable()) {
      const parent: TrieNode<V> = node.parent;
      if (parent.plus === node) parent.plus = null;
      else if (parent.hash === node) parent.hash = null;
      else if (parent.children !== null) {
        parent.children.delete(node.level);
        if (parent.children.size === 0) parent.children = null;
      }
      node = parent;
    }
  }
}

function visitEntries<V>(node: TrieNode<V>, visitor: TrieVisitor<V>): void {
  const entries = node.entries;
  if (entries === null) return;
  const { keys, values } = entries;
  // set()/delete() throw while matching, so the arrays cannot change under this loop.
  for (let i = 0; i < keys.length; i++) visitor.visit(keys[i]!, values[i]!, node.filter);
}
