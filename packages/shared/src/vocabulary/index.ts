// The vocabulary values are checked with: the patterns (depending on nothing) and the document DSL
// (depending only on action/, for `show`), below every other folder but action/.
export * from './patterns';
export * from './document';
