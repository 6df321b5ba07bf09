/** Name the JSON type of a parsed value for error messages, telling null and array apart from object. */
export function jsonTypeOf(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'array';
  return typeof value;
}
