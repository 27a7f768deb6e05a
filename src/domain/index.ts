export * from './features';
export * from './errors';
export * from './diagnosis';
export * from './deadlines';
export * from './connection';
export * from './formats';
export * from './admin';
