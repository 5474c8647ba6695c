/** Injected so tests can drive time and every entry's recorded_at comes from one place. */
export interface Clock {
  now(): Date;
}

export const systemClock: Clock = { now: () => new Date() };
