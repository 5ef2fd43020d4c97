// Arguments and SOCKVISOR_* values are checked as the kernel holds them: bytes that are not UTF-8
// are refused (Node would have put U+FFFD in their place); a U+FFFD really typed passes.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { invalidInput, showBytes, splitNul } from '../../src/cli/raw-input.js';

/** The parts as /proc/self/cmdline or environ hold them: each ended by a NUL. */
const nul = (...parts: (string | Buffer)[]): Buffer =>
  Buffer.concat(parts.flatMap((p) => [typeof p === 'string' ? Buffer.from(p) : p, Buffer.from([0])]));
const bad = Buffer.from([0x2f, 0x61, 0xff, 0xfe]);

test('splitNul and showBytes', () => {
  assert.deepEqual(splitNul(nul('a', '', 'b')).map(String), ['a', '', 'b']);
  assert.equal(showBytes(Buffer.concat([bad, Buffer.from('\\\n')])), '/a\\xff\\xfe\\x5c\\x0a');
});

test("an argument that is not UTF-8 is refused by its place among sockvisor's arguments; node and its own options are not counted", () => {
  const cmdline = nul('/usr/bin/node', '--expose-gc', '/x/sockvisor.js', '-s', bad, '--', 'sleep');
  assert.match(invalidInput(cmdline, 4, Buffer.alloc(0))!, /^sockvisor: argument 2 \('\/a\\xff\\xfe'\) is not valid UTF-8/);
  assert.equal(invalidInput(nul(bad, '/x/sockvisor.js', '-s', '/a'), 2, Buffer.alloc(0)), null, "node's own path is not ours to judge");
  assert.equal(invalidInput(nul('node', 's.js', '-s', '/run/a\u{fffd}.sock'), 2, Buffer.alloc(0)), null, 'a real U+FFFD is valid UTF-8');
});

test("a SOCKVISOR_ value that is not UTF-8 is refused by name; other variables are not sockvisor's business", () => {
  const environ = nul(Buffer.concat([Buffer.from('LANG_X='), bad]), Buffer.concat([Buffer.from('SOCKVISOR_SOCKET='), bad]));
  const refusal = invalidInput(nul('node', 's.js'), 0, environ);
  assert.match(refusal!, /^sockvisor: the environment variable SOCKVISOR_SOCKET \('\/a\\xff\\xfe'\) is not valid UTF-8/);
  assert.equal(invalidInput(nul('node', 's.js'), 0, nul(Buffer.concat([Buffer.from('LANG_X='), bad]))), null);
});
