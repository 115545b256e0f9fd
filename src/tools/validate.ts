/**
 * Checks a tool's input against its schema (VS Code does not; an MCP client may not): every problem at once, each
 * saying what was wrong and what is accepted.
 */
import { type JsonSchema, type ObjectSchema, ToolError } from './types';

/** Throws ToolError when `input` does not fit `schema`; returns it as a record when it does. */
export function checkInput(toolName: string, schema: ObjectSchema, input: unknown): Record<string, unknown> {
  const problems = objectProblems(schema, input ?? {});
  if (problems.length === 0) return (input ?? {}) as Record<string, unknown>;
  throw new ToolError(`Invalid input for ${toolName}: ${problems.join(' ')} It takes ${describeObject(schema)}.`);
}

function objectProblems(schema: ObjectSchema, input: unknown): string[] {
  if (typeof input !== 'object' || input === null || Array.isArray(input)) return [`The input must be a JSON object (got ${kindOf(input)}).`];
  const record = input as Record<string, unknown>;
  const problems: string[] = [];
  for (const key of Object.keys(record)) {
    if (!(key in schema.properties) && schema.additionalProperties === false) problems.push(`"${key}" is not a field it takes.`);
  }
  for (const key of schema.required ?? []) {
    if (record[key] === undefined) problems.push(`"${key}" is required (${schema.properties[key].description ?? describe(schema.properties[key])}).`);
  }
  for (const [key, property] of Object.entries(schema.properties)) {
    if (record[key] !== undefined) problems.push(...valueProblems(`"${key}"`, property, record[key]));
  }
  return problems;
}

function valueProblems(name: string, schema: JsonSchema, value: unknown): string[] {
  const types = schema.type === undefined ? [] : Array.isArray(schema.type) ? schema.type : [schema.type];
  if (types.length > 0 && !types.some((type) => isType(type, value))) return [`${name} must be ${describe(schema)} (got ${kindOf(value)}).`];
  if (schema.enum && !schema.enum.includes(value as string | number)) return [`${name} must be one of ${schema.enum.map((v) => JSON.stringify(v)).join(', ')} (got ${JSON.stringify(value)}).`];
  if (typeof value === 'number' && ((schema.minimum !== undefined && value < schema.minimum) || (schema.maximum !== undefined && value > schema.maximum))) {
    return [`${name} must be ${range(schema)} (got ${value}).`];
  }
  if (typeof value === 'string' && ((schema.minLength !== undefined && value.length < schema.minLength) || (schema.maxLength !== undefined && value.length > schema.maxLength))) {
    return [`${name} must be a string of ${schema.minLength ?? 0} to ${schema.maxLength ?? 'any number of'} characters (got ${value.length}).`];
  }
  if (Array.isArray(value) && schema.items) return value.flatMap((item, i) => valueProblems(`${name}[${i}]`, schema.items!, item));
  return [];
}

function isType(type: string, value: unknown): boolean {
  switch (type) {
    case 'integer': return typeof value === 'number' && Number.isInteger(value);
    case 'number': return typeof value === 'number' && Number.isFinite(value);
    case 'array': return Array.isArray(value);
    case 'null': return value === null;
    case 'object': return typeof value === 'object' && value !== null && !Array.isArray(value);
    default: return typeof value === type;
  }
}

function kindOf(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'a list';
  if (typeof value === 'number') return Number.isInteger(value) ? `the number ${value}` : `the number ${value}, not a whole number`;
  if (typeof value === 'string') return `the string ${JSON.stringify(value.length > 40 ? `${value.slice(0, 40)}…` : value)}`;
  return `${typeof value === 'object' ? 'an' : 'a'} ${typeof value}`;
}

function range(schema: JsonSchema): string {
  const what = schema.type === 'integer' ? 'a whole number' : 'a number';
  if (schema.minimum !== undefined && schema.maximum !== undefined) return `${what} from ${schema.minimum} to ${schema.maximum}`;
  if (schema.minimum !== undefined) return `${what} of at least ${schema.minimum}`;
  return schema.maximum !== undefined ? `${what} of at most ${schema.maximum}` : what;
}

/** What a value of this schema is, in words: "a whole number from 1 to 64", "one of "ready", "running"". */
function describe(schema: JsonSchema): string {
  if (schema.enum) return `one of ${schema.enum.map((v) => JSON.stringify(v)).join(', ')}`;
  switch (schema.type) {
    case 'integer':
    case 'number': return range(schema);
    case 'string': return 'a string';
    case 'boolean': return 'true or false';
    case 'array': return `a list${schema.items ? ` of ${describe(schema.items)}` : ''}`;
    default: return 'an object';
  }
}

/** The fields a tool takes, in one line: {server?: a string, workers: a whole number from 1 to 64}. */
export function describeObject(schema: ObjectSchema): string {
  const required = new Set(schema.required ?? []);
  const fields = Object.entries(schema.properties).map(([key, property]) => `${key}${required.has(key) ? '' : '?'}: ${describe(property)}`);
  return fields.length === 0 ? 'no fields ({})' : `{${fields.join(', ')}}`;
}
