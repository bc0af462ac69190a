// Fault-injection hooks for the contract tests: both implementations call them inside the batch,
// before each op, and treat a throw exactly like a failing write (roll back, reject with
// StorageError naming the op). Production code passes none.
import type { AppMessage } from '../protocol/message.js';
import type { StoreOp } from './types.js';

export type BeforeOpHook = (op: StoreOp, index: number) => void;

export type BeforeChangeHook = (change: { topic: string; message: AppMessage | null }, index: number) => void;
