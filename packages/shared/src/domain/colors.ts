/**
 * The two colors an app runs as on a host: one serves, the other takes the next version, and
 * traffic moves between them.
 */
export const COLORS = ['blue', 'green'] as const;
export type Color = (typeof COLORS)[number];
export const otherColor = (color: Color): Color => (color === 'blue' ? 'green' : 'blue');
