import type { Weights } from '@agent-loop/shared';

/** Each switch moves between a split (split_clients) and a single color (map), both ways. */
export const SWITCH_CYCLE: Weights[] = [
  { blue: 90, green: 10 },
  { blue: 100, green: 0 },
  { blue: 10, green: 90 },
  { blue: 0, green: 100 },
];
