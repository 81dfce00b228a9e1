export * from './host.js';
export * from './receiver.js';
