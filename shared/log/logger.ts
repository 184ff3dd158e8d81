import { gatewayConfig } from '../config/index.ts';
import { redactSecrets } from '../redact/index.ts';

export type LogLevel = 'debug' | 'info' | 'warn' | 'error' | 'silent';
export type LogFields = Record<string, unknown>;

const LEVELS: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40, silent: 100 };

export interface Logger {
  debug(msg: string, fields?: LogFields): void;
  info(msg: string, fields?: LogFields): void;
  warn(msg: string, fields?: LogFields): void;
  error(msg: string, fields?: LogFields): void;
  /** A logger whose lines all carry `fields` (request context: correlation id, principal...). */
  child(fields: LogFields): Logger;
}

export type LogSink = (line: string) => void;

/**
 * One JSON object per line. Every line goes through the redactor (emails kept: they help
 * operators and are not credentials), so a secret in a message or a field never reaches a log.
 */
export function createLogger(base: LogFields, level: LogLevel = 'info', sink: LogSink = defaultSink): Logger {
  return new JsonLogger(base, LEVELS[level], sink);
}

/** Whether a logger made at `level` writes lines of level `at` (what its methods would drop, unbuilt). */
export function logsAt(level: LogLevel, at: Exclude<LogLevel, 'silent'>): boolean {
  return LEVELS[at] >= LEVELS[level];
}

/**
 * One object per logger, its methods on the prototype: a request makes two (access log, auth).
 * A child's fields are merged into its parent's on its first line, not when it is made: at the
 * usual level (info off on the hot path, or warn) most request loggers never write one.
 */
class JsonLogger implements Logger {
  private merged: LogFields | undefined;
  private readonly parent: JsonLogger | undefined;
  private readonly fields: LogFields;
  private readonly threshold: number;
  private readonly sink: LogSink;
  constructor(fields: LogFields, threshold: number, sink: LogSink, parent?: JsonLogger) {
    this.fields = fields;
    this.threshold = threshold;
    this.sink = sink;
    this.parent = parent;
    if (!parent) this.merged = fields;
  }
  /** The parent's fields, then this logger's (as a spread of both at `child` made them). */
  private get base(): LogFields {
    if (!this.merged) this.merged = { ...this.parent!.base, ...this.fields };
    return this.merged;
  }
  private write(lvl: Exclude<LogLevel, 'silent'>, msg: string, fields?: LogFields): void {
    if (LEVELS[lvl] < this.threshold) return;
    const line = { ts: new Date().toISOString(), level: lvl, msg, ...this.base, ...normalizeFields(fields) };
    const { value } = redactSecrets(line, { extraKeys: gatewayConfig.redaction.extra_keys });
    this.sink(JSON.stringify(value));
  }
  debug(msg: string, fields?: LogFields): void {
    this.write('debug', msg, fields);
  }
  info(msg: string, fields?: LogFields): void {
    this.write('info', msg, fields);
  }
  warn(msg: string, fields?: LogFields): void {
    this.write('warn', msg, fields);
  }
  error(msg: string, fields?: LogFields): void {
    this.write('error', msg, fields);
  }
  child(fields: LogFields): Logger {
    return new JsonLogger(fields, this.threshold, this.sink, this);
  }
}

function defaultSink(line: string): void {
  console.log(line);
}

/** Errors do not JSON-serialise; keep name, message and the cause chain, not the stack. */
function normalizeFields(fields?: LogFields): LogFields | undefined {
  if (!fields) return fields;
  let out: LogFields | undefined;
  for (const [key, value] of Object.entries(fields)) {
    if (value instanceof Error) {
      out ??= { ...fields };
      out[key] = describeError(value);
    }
  }
  return out ?? fields;
}

export function describeError(err: Error, depth = 0): Record<string, unknown> {
  const out: Record<string, unknown> = { name: err.name, message: err.message };
  const code = (err as { code?: unknown }).code;
  if (typeof code === 'string' || typeof code === 'number') out.code = code;
  if (err.cause instanceof Error && depth < 3) out.cause = describeError(err.cause, depth + 1);
  return out;
}
