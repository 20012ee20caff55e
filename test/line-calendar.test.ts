import assert from 'node:assert/strict';
import { check, describeConflict, earliestStart, loadProfile, type Booking } from '../src/capabilities/dedicated-line/calendar.ts';

const H = 3_600_000;
const line = { committedMbps: 100, portCapacityMbps: 1000 };
const b = (id: string, startH: number, endH: number, mbps: number): Booking => ({ id, start: startH * H, end: endH * H, mbps });

describe('line booking calendar (admission over time)', () => {
  const bookings = [b('a', 0, 2, 500), b('b', 1, 3, 300), b('c', 4, 5, 900)];

  it('sums the boosts that hold each piece of a window', () => {
    assert.deepEqual(loadProfile(bookings, 0, 6 * H), [
      { from: 0, to: 1 * H, mbps: 500 },
      { from: 1 * H, to: 2 * H, mbps: 800 },
      { from: 2 * H, to: 3 * H, mbps: 300 },
      { from: 4 * H, to: 5 * H, mbps: 900 },
    ]);
    assert.deepEqual(loadProfile(bookings, 1.5 * H, 1.5 * H + 1), [{ from: 1.5 * H, to: 1.5 * H + 1, mbps: 800 }]);
    assert.deepEqual(loadProfile(bookings, 3 * H, 3 * H + 1), [], 'a window is half-open: nothing holds its end');
  });

  it('admits up to the port capacity at every instant and names the first window that breaks it', () => {
    assert.deepEqual(check(bookings, { start: 0, end: 1 * H, mbps: 400 }, line), { fits: true }, '100 + 500 + 400 = 1000 fits exactly');
    const v = check(bookings, { start: 0, end: 3 * H, mbps: 200 }, line);
    assert.equal(v.fits, false);
    assert.deepEqual(!v.fits && v.conflict, { from: 1 * H, to: 2 * H, limit: 'PORT_CAPACITY', limitMbps: 1000, requiredMbps: 1100 });
    assert.ok(!v.fits);
    assert.match(describeConflict(v.conflict), /1970-01-01T01:00:00.000Z to 1970-01-01T02:00:00.000Z.*1100 Mbps.*port capacity of 1000 Mbps/);
  });

  it('treats back-to-back windows as not overlapping at the edges', () => {
    assert.equal(check(bookings, { start: 3 * H, end: 4 * H, mbps: 900 }, line).fits, true, 'between b (ends 3h) and c (starts 4h)');
    assert.equal(check(bookings, { start: 3 * H, end: 4 * H + 1, mbps: 900 }, line).fits, false, 'one millisecond into c');
    assert.equal(check(bookings, { start: 5 * H, end: 6 * H, mbps: 900 }, line).fits, true, 'right after c');
  });

  it('applies the plan ceiling when it is below the port capacity', () => {
    const v = check([], { start: 0, end: H, mbps: 500 }, { ...line, planMaxMbps: 400 });
    assert.deepEqual(!v.fits && v.conflict, { from: 0, to: H, limit: 'PLAN_LIMIT', limitMbps: 400, requiredMbps: 600 });
    assert.equal(check([], { start: 0, end: H, mbps: 500 }, { ...line, planMaxMbps: 5000 }).fits, true, 'a ceiling above the port changes nothing');
  });

  it('leaves a request out of its own check (extension)', () => {
    assert.equal(check(bookings, { start: 2 * H, end: 4 * H, mbps: 500 }, line).fits, true);
    assert.equal(check([b('x', 0, 4, 800)], { start: 2 * H, end: 4 * H, mbps: 800 }, line, 'x').fits, true);
    assert.equal(check([b('x', 0, 4, 800)], { start: 2 * H, end: 4 * H, mbps: 800 }, line).fits, false);
  });

  it('finds the earliest start, which is always now or the end of a booking', () => {
    assert.equal(earliestStart(bookings, 400, H, line, 0, 100 * H), 0);
    assert.equal(earliestStart(bookings, 600, H, line, 0, 100 * H), 2 * H, 'after a ends, b alone leaves 600');
    assert.equal(earliestStart(bookings, 900, 2 * H, line, 0, 100 * H), 5 * H, 'the 3h–4h gap is too short for two hours');
    assert.equal(earliestStart(bookings, 900, 2 * H, line, 0, 4 * H), undefined, 'nothing within the horizon');
    assert.equal(earliestStart(bookings, 901, H, line, 0, 100 * H), undefined, 'more than the port can ever carry');
    assert.equal(earliestStart(bookings, 600, H, line, 30 * 60_000, 100 * H), 2 * H, 'never before notBefore');
  });
});
