export { canonicalize } from './jcs.ts';
export { hasLoneSurrogate } from './unicode.ts';
