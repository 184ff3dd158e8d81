export * from './app-error.ts';
export { errorBody, toAppError } from './on-error.ts';
