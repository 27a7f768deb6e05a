/**
 * The contract: the shapes the API, the tab, the bot and the Graph layer share. It depends only on
 * src/domain (docs/ARCHITECTURE.md); types and constant lists only, no Node imports, because the
 * tab bundles it too.
 */
export * from './steps';
export * from './api';
