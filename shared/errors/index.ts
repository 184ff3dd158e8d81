export * from './app-error.ts';
export { anthropicErrorBody, errorBody, toAppError } from './on-error.ts';
