export * from './features';
export * from './errors';
export * from './diagnosis';
export * from './deadlines';
export * from './connection';
export * from './admin';
export * from './reach';
export * from './checks';
