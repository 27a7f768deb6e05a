/** The bot's Adaptive Cards: templates (*.json), typed models, the builder and the views. */
export * from './models';
export * from './build';
export * from './markdown';
export * from './views';
