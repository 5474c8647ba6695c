export * from './journal.ts';
export * from './evidence.ts';
export * from './build-journal.ts';
