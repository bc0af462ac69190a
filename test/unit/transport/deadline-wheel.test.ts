import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { DeadlineWheel, type DeadlineTarget } from '../../../src/transport/deadline-wheel.js';

/** A target whose deadline can move, recording when the wheel checked it and when it fired. */
class Target implements DeadlineTarget {
  wheelSlot = -1;
  firedAt: number | null = null;
  checks = 0;
  constructor(
    private readonly wheel: DeadlineWheel,
    public deadline: number,
    private readonly onFire: () => void = () => {},
  ) {}
  onWheelSlot(now: number): void {
    this.checks++;
    if (now < this.deadline) this.wheel.schedule(this, this.deadline);
    else {
      this.firedAt = now;
      this.onFire();
    }
  }
}

function waitFor(cond: () => boolean, ms: number): Promise<void> {
  const started = Date.now();
  return new Promise((resolve, reject) => {
    const poll = (): void => {
      if (cond()) resolve();
      else if (Date.now() - started > ms) reject(new Error(`not within ${ms} ms`));
      else setImmediate(poll);
    };
    poll();
  });
}

describe('DeadlineWheel', () => {
  it('fires at or after the deadline, late by at most one step', (t) => {
    // Mocked interval and an injected clock: a loaded machine can delay a real tick by any amount,
    // which said nothing about the wheel (a wall-clock bound here failed under load 14).
    t.mock.timers.enable({ apis: ['setInterval'] });
    let clock = 1_000_000;
    const wheel = new DeadlineWheel(20, () => clock);
    const ts = [30, 75, 5, 120, 20, 0].map((d) => new Target(wheel, clock + d));
    for (const target of ts) wheel.schedule(target, target.deadline);
    for (let i = 0; i < 100 && !ts.every((x) => x.firedAt !== null); i++) {
      clock += 5;
      t.mock.timers.tick(5);
    }
    for (const target of ts) {
      assert.notEqual(target.firedAt, null, `deadline +${target.deadline - 1_000_000} never fired`);
      assert.ok(target.firedAt! >= target.deadline, `fired ${target.deadline - target.firedAt!} ms early`);
      assert.ok(target.firedAt! - target.deadline <= 20, `fired ${target.firedAt! - target.deadline} ms late`);
    }
    assert.equal(wheel.size, 0);
  });

  it('a deadline moved later is found at the old slot and followed (lazy refresh)', async () => {
    const wheel = new DeadlineWheel(10);
    const t = new Target(wheel, Date.now() + 30);
    wheel.schedule(t, t.deadline);
    t.deadline += 60; // activity: nothing is rescheduled eagerly
    await waitFor(() => t.firedAt !== null, 2000);
    assert.ok(t.firedAt! >= t.deadline);
    assert.ok(t.checks >= 2, 'checked at the old slot, then at the new one');
  });

  it('an earlier deadline moves the target forward; a later one keeps its slot', () => {
    const wheel = new DeadlineWheel(10);
    const now = Date.now();
    const t = new Target(wheel, now + 1000);
    wheel.schedule(t, now + 1000);
    const slot = t.wheelSlot;
    wheel.schedule(t, now + 5000);
    assert.equal(t.wheelSlot, slot);
    wheel.schedule(t, now + 100);
    assert.ok(t.wheelSlot < slot);
    assert.equal(wheel.size, 1);
    wheel.cancel(t);
    assert.equal(wheel.size, 0);
    assert.equal(t.wheelSlot, -1);
  });

  it('files targets under small slot numbers, also when the clock steps back', () => {
    // Epoch ms / resolution would be past 2^31, a heap number per idle connection in V8.
    let clock = Date.now();
    const wheel = new DeadlineWheel(100, () => clock);
    const t = new Target(wheel, clock + 900_000);
    wheel.schedule(t, t.deadline);
    assert.ok(Number.isInteger(t.wheelSlot) && t.wheelSlot >= 0 && t.wheelSlot < 2 ** 30, `slot ${t.wheelSlot}`);
    wheel.cancel(t);
    clock -= 60_000; // the wall clock was set back: a slot must still never read as -1 ("not filed")
    const past = new Target(wheel, clock);
    wheel.schedule(past, past.deadline);
    assert.ok(past.wheelSlot >= 0);
    assert.equal(wheel.size, 1);
    wheel.cancel(past);
    assert.equal(wheel.size, 0);
  });

  it('a cancelled target never fires, also when cancelled by another in the same slot', async () => {
    const wheel = new DeadlineWheel(10);
    const due = Date.now() + 20;
    let victim: Target | null = null;
    const killer = new Target(wheel, due, () => victim && wheel.cancel(victim));
    victim = new Target(wheel, due);
    const cancelled = new Target(wheel, due);
    wheel.schedule(killer, due);
    wheel.schedule(victim, due);
    wheel.schedule(cancelled, due);
    wheel.cancel(cancelled);
    await waitFor(() => killer.firedAt !== null, 2000);
    assert.equal(cancelled.checks, 0);
    assert.equal(victim.checks, 0, 'cancelled while its slot was being processed');
    assert.equal(wheel.size, 0);
  });
});
