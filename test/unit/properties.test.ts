/**
 * Property-based tests (fast-check; settings in test/support/fuzz.ts): the line splitter gives back the same lines
 * however a stream is cut; any task definition, with the CLI's variable expansion or without, resolves or is a
 * DefinitionError that names the property, never another exception or a hang.
 */
import * as assert from 'node:assert';
import { describe, it } from 'node:test';
import * as fc from 'fast-check';
import { DefinitionError, MAX_WORKERS, resolveDefinition, SERVER_KINDS } from '../../src/core/definition';
import { LineSplitter, PIECE_CONTINUED, PIECE_OPEN } from '../../src/core/lineSplitter';
import { expandTaskVariables } from '../../src/core/taskVariables';
import { fuzzParameters } from '../support/fuzz';

/** Runs a property, says how many cases ran, fails with fast-check's report (seed and path to replay). */
function check<T>(property: fc.IProperty<T>, defaultRuns: number, report: (text: string) => void, examples: T[] = []): void {
  const parameters = { ...fuzzParameters<T>(defaultRuns), examples };
  const details = fc.check(property, parameters);
  report(`${details.numRuns} cases (seed ${parameters.seed})`);
  if (details.failed) assert.fail(fc.defaultReportMessage(details) ?? 'the property failed');
}

// ---- the line splitter ------------------------------------------------------------------------------------------

/** Lines as a stream carries them: unicode, empty, CR at the end, long ones. */
const lineText = fc.oneof(
  { weight: 4, arbitrary: fc.string({ unit: 'binary', maxLength: 40 }) },
  { weight: 1, arbitrary: fc.string({ unit: 'grapheme', maxLength: 300 }) },
  { weight: 1, arbitrary: fc.constantFrom('', '\r', 'a\r', '✓', '😀😀', '\r\r') },
).map((text) => text.replace(/\n/g, ' '));

const streamCase = fc.record({
  lines: fc.array(lineText, { maxLength: 30 }),
  /** The stream ends without a final newline. */
  unterminated: fc.boolean(),
  /** Cut positions, as fractions of the stream. */
  cuts: fc.array(fc.double({ min: 0, max: 1, noNaN: true }), { maxLength: 40 }),
  /** Before which chunks the owner flushes a partial line (a quiet moment). */
  flushes: fc.array(fc.nat({ max: 40 }), { maxLength: 20 }),
  maxLineBytes: fc.constantFrom(4, 7, 16, 64, 1024 * 1024),
});

/** What a line looks like on its way out: the splitter drops one CR before a newline (or the stream's end). */
function expectedLines(lines: string[]): string[] {
  return lines.map((line) => {
    const text = Buffer.from(line).toString('utf8'); // lone surrogates become U+FFFD on the way in, too
    return text.endsWith('\r') ? text.slice(0, -1) : text;
  });
}

describe('properties: the line splitter', () => {
  it('gives back the same lines, whatever the chunks, the flushes and the maximum line length', (t) => {
    check(fc.property(streamCase, ({ lines, unterminated, cuts, flushes, maxLineBytes }) => {
      const stream = Buffer.from(unterminated ? lines.join('\n') : lines.map((line) => `${line}\n`).join(''));
      // An unterminated last line that is empty is no line at all.
      const sent = unterminated && lines[lines.length - 1] === '' ? lines.slice(0, -1) : lines;
      const positions = [...new Set(cuts.map((c) => Math.floor(c * stream.length)))].sort((a, b) => a - b);
      const chunks = [0, ...positions, stream.length].slice(1).map((end, i, ends) => stream.subarray(i === 0 ? 0 : ends[i - 1], end));
      const got: string[] = [];
      let open = false;
      const splitter = new LineSplitter((line, piece) => {
        assert.strictEqual((piece & PIECE_CONTINUED) !== 0, open, 'a piece continues exactly when the one before was open');
        if (open) got[got.length - 1] += line;
        else got.push(line);
        open = (piece & PIECE_OPEN) !== 0;
        if (open) assert.ok(line.length > 0, 'an open piece is never empty');
      }, maxLineBytes);
      chunks.forEach((chunk, i) => {
        if (flushes.includes(i)) splitter.flush();
        splitter.push(Buffer.from(chunk));
      });
      splitter.end();
      assert.ok(!open, 'the end closes the last line');
      assert.deepStrictEqual(got, expectedLines(sent));
    }), 2000, (text) => t.diagnostic(text));
  });

  it('takes any bytes without throwing, and ends a line at every newline', (t) => {
    check(fc.property(fc.array(fc.uint8Array({ maxLength: 64 }), { maxLength: 20 }), fc.array(fc.boolean(), { maxLength: 20 }), (chunks, flushes) => {
      let ends = 0;
      const splitter = new LineSplitter((_line, piece) => {
        if (!(piece & PIECE_OPEN)) ends++;
      }, 16);
      chunks.forEach((chunk, i) => {
        splitter.push(Buffer.from(chunk));
        if (flushes[i]) splitter.flush();
      });
      const newlines = chunks.reduce((n, chunk) => n + chunk.filter((b) => b === 10).length, 0);
      splitter.end();
      const last = Buffer.concat(chunks.map((c) => Buffer.from(c)));
      const trailing = last.length > 0 && last[last.length - 1] !== 10 ? 1 : 0;
      assert.strictEqual(ends, newlines + trailing);
    }), 2000, (text) => t.diagnostic(text));
  });
});

// ---- task definitions -------------------------------------------------------------------------------------------

const PROPERTIES = ['name', 'server', 'app', 'workers', 'bind', 'workerClass', 'python', 'cwd', 'env', 'args', 'timeout',
  'gracefulTimeout', 'certfile', 'keyfile', 'preLaunch', 'maxMemoryMb', 'restart', 'restartMax'];

const tricky = fc.constantFrom(
  '', ' ', 'main:app', 'pkg.web:create_app()', '127.0.0.1:8000', '[::1]:8000', '0.0.0.0:80', 'gunicorn', 'uvicorn',
  'sync', 'on-failure', '$(touch /tmp/x)', '`id`', '; rm -rf /', '| cat', '&& echo', '"quoted"', "'single'", '\\',
  '${workspaceFolder}', '${env:HOME}', '${env:}', '${userHome}/x', '${pathSeparator}', '${/}', '${command:python.interpreterPath}',
  '${input:x}', '${config:a.b}', '${', '${}', '$${env:X}', '${env:A${env:B}}', '\0', 'a\0b', '💥', 'ünïcödé', '\u202e', '\r\n',
  '__proto__', 'constructor', 'toString', 'hasOwnProperty',
);
const huge = fc.integer({ min: 1, max: 200 }).map((kb) => 'x'.repeat(kb * 1024));
const text = fc.oneof({ weight: 3, arbitrary: tricky }, { weight: 3, arbitrary: fc.string({ unit: 'binary', maxLength: 30 }) }, { weight: 1, arbitrary: huge });
const scalar = fc.oneof(text, fc.integer({ min: -100, max: 100_000 }), fc.double(), fc.boolean(), fc.constant(null));
const value = fc.oneof(
  { weight: 4, arbitrary: scalar },
  { weight: 1, arbitrary: fc.array(fc.oneof(text, scalar), { maxLength: 6 }) },
  { weight: 1, arbitrary: fc.array(fc.array(text, { maxLength: 4 }), { maxLength: 4 }) },
  { weight: 1, arbitrary: fc.dictionary(fc.oneof(tricky, fc.string({ maxLength: 12 })), fc.oneof(text, scalar), { maxKeys: 6 }) },
);
const key = fc.oneof({ weight: 6, arbitrary: fc.constantFrom(...PROPERTIES) }, { weight: 1, arbitrary: fc.constantFrom('__proto__', 'constructor') }, { weight: 1, arbitrary: fc.string({ maxLength: 10 }) });
/** As JSON.parse makes them: plain objects, "__proto__" an own key like any other. */
const definition = fc.array(fc.tuple(key, value), { maxLength: 10 }).map((entries) => JSON.parse(JSON.stringify(Object.fromEntries(entries))) as Record<string, unknown>);
const context = { defaultPython: 'python3', defaultCwd: '/tmp', defaultWorkers: 2 };

/** Each problem names a property of the definition (the one that is wrong), quoted as the user wrote it. */
function assertNamesProperties(error: unknown, raw: Record<string, unknown>): void {
  assert.ok(error instanceof DefinitionError, `a DefinitionError, not ${error instanceof Error ? `${error.name}: ${error.message}` : String(error)}`);
  const names = [...PROPERTIES, ...Object.keys(raw)];
  for (const problem of error.problems) {
    assert.ok(names.some((name) => problem.includes(`"${name}`)), `the problem names a property: ${problem.slice(0, 300)}`);
  }
}

function assertValid(resolved: ReturnType<typeof resolveDefinition>, raw: Record<string, unknown>): void {
  if (Object.hasOwn(raw, 'env')) {
    const given = Object.keys(raw.env as object);
    assert.deepStrictEqual(Object.keys(resolved.env), given, 'every variable of "env" is kept, whatever its name');
  }
  if (Object.hasOwn(raw, 'app')) assert.strictEqual(resolved.app, (raw.app as string).trim(), 'the app is the one written');
  else assert.fail('a definition without its own "app" does not resolve');
  assert.ok(SERVER_KINDS.includes(resolved.server));
  assert.ok(Number.isInteger(resolved.workers) && resolved.workers >= 1 && resolved.workers <= MAX_WORKERS);
  assert.ok(Number.isInteger(resolved.port) && resolved.port >= 1 && resolved.port <= 65535);
  for (const part of [resolved.app, resolved.python, resolved.cwd, ...resolved.args, ...Object.values(resolved.env), ...resolved.preLaunch.flat()]) {
    assert.strictEqual(typeof part, 'string');
    assert.ok(!part.includes('\0'), 'no NUL reaches a process');
  }
}

/**
 * A definition resolves, or fails as a DefinitionError naming its properties, within a second. `prepare` gives the
 * definition resolveDefinition reads (the CLI's expansion), and may throw the same way.
 */
function resolvesOrNames(raw: Record<string, unknown>, prepare: (raw: Record<string, unknown>) => Record<string, unknown> = (r) => r): void {
  const started = Date.now();
  try {
    const prepared = prepare(raw);
    assertValid(resolveDefinition(prepared, context), prepared);
  } catch (error) {
    if (error instanceof assert.AssertionError) throw error;
    assertNamesProperties(error, raw);
  }
  assert.ok(Date.now() - started < 1000, `answered in ${Date.now() - started} ms`);
}

/** Cases that found bugs, run before the random ones (as JSON.parse makes them: "__proto__" is an own key). */
const found: Array<Record<string, unknown>> = [
  JSON.parse('{"app": "main:app", "env": {"__proto__": "x", "A": "1"}}') as Record<string, unknown>, // the variable was dropped
  JSON.parse('{"__proto__": {"app": "evil:app"}}') as Record<string, unknown>, // expanded, it became the prototype: app "evil:app"
  { app: 'main:app', args: Array<string>(9).fill('x'.repeat(120 * 1024)) }, // too big in all: the message named no property
];

describe('properties: task definitions', () => {
  it('resolveDefinition: a valid resolved definition, or a DefinitionError that names the property', (t) => {
    check(fc.property(definition, (raw) => resolvesOrNames(raw)), 1000, (text) => t.diagnostic(text), found.map((raw) => [raw]));
  });

  it('the CLI\'s task variables, then resolveDefinition: the same, whatever the variables and the environment', (t) => {
    const environment = fc.dictionary(fc.oneof(fc.constantFrom('HOME', 'X', 'A', 'B', ''), fc.string({ maxLength: 8 })), text, { maxKeys: 5 });
    check(fc.property(definition, environment, fc.oneof(tricky, fc.string({ maxLength: 20 })), (raw, env, folder) => {
      resolvesOrNames(raw, (r) => expandTaskVariables(r, { workspaceFolder: `/w/${folder}`, env, userHome: '/home/u' }));
    }), 1000, (text) => t.diagnostic(text), found.map((raw) => [raw, {}, 'w']));
  });

  it('a definition that is not an object is a DefinitionError that says what it must be', (t) => {
    check(fc.property(fc.oneof(scalar, fc.array(scalar)), (raw) => {
      assert.throws(() => resolveDefinition(raw, context), (error: Error) => error instanceof DefinitionError && /must be an object/.test(error.message));
    }), 200, (text) => t.diagnostic(text));
  });
});
