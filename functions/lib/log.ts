/**
 * Structured JSON logging to stdout/stderr, one line per record, which is what
 * CloudWatch Logs and the local host both expect. Secrets are never passed in.
 */
type Level = 'debug' | 'info' | 'warn' | 'error';
const ORDER: Record<Level, number> = { debug: 10, info: 20, warn: 30, error: 40 };

function threshold(): number {
  const configured = (process.env.LOG_LEVEL ?? 'info').toLowerCase() as Level;
  return ORDER[configured] ?? ORDER.info;
}

function write(level: Level, message: string, fields?: Record<string, unknown>): void {
  if (ORDER[level] < threshold()) return;
  const record: Record<string, unknown> = { time: new Date().toISOString(), level, message, ...fields };
  if (fields?.error instanceof Error) {
    record.error = { name: fields.error.name, message: fields.error.message, stack: fields.error.stack };
  }
  const line = JSON.stringify(record);
  // Command-line tools set LOG_STREAM=stderr, so their standard output carries only their own result.
  if (level === 'error' || level === 'warn' || process.env.LOG_STREAM === 'stderr') process.stderr.write(line + '\n');
  else process.stdout.write(line + '\n');
}

export const log = {
  debug: (message: string, fields?: Record<string, unknown>) => write('debug', message, fields),
  info: (message: string, fields?: Record<string, unknown>) => write('info', message, fields),
  warn: (message: string, fields?: Record<string, unknown>) => write('warn', message, fields),
  error: (message: string, fields?: Record<string, unknown>) => write('error', message, fields),
};
