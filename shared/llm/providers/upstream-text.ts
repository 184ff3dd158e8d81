/**
 * The JSON text an OpenAI-type upstream answered with, kept beside the object parsed from it so
 * a route that sends the answer on unchanged sends those bytes rather than serialising the object
 * again (issue #23: the re-serialisation was a measurable part of a chat request's CPU). Only for
 * answers nothing rewrites: a route that changes the object must not ask for its text.
 */
const texts = new WeakMap<object, string>();

export function keepText<T extends object>(json: T, text: string): T {
  texts.set(json, text);
  return json;
}

export function upstreamText(json: object): string | undefined {
  return texts.get(json);
}
