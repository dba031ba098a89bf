export { COLORS, otherColor, type Color } from './colors';
export {
  isRejected,
  RELEASE_STATUSES,
  type Release,
  type ReleaseRecord,
  type ReleaseStatus,
  type RuntimeRecord,
} from './releases';
