import assert from 'node:assert/strict';
import { test } from 'node:test';
import { formatMode, parseMode, parseUwsgiChmod } from '../../src/socket/mode.js';
import { UsageError } from '../../src/errors.js';

test('octal modes read as chmod reads them, never as decimal', () => {
  assert.equal(parseMode('0660'), 0o660);
  assert.equal(parseMode('660'), 0o660);
  assert.equal(parseMode('020'), 0o020);
  assert.equal(parseMode('0o640'), 0o640);
  assert.equal(parseMode('0'), 0);
  assert.equal(parseMode('777'), 0o777);
});

test('symbolic modes start from nothing and apply clauses in order', () => {
  assert.equal(parseMode('u=rw,g=rw'), 0o660);
  assert.equal(parseMode('ug=rw'), 0o660);
  assert.equal(parseMode('a=rw,o-rw'), 0o660);
  assert.equal(parseMode('u=rw,g+w'), 0o620);
  assert.equal(parseMode('=rw'), 0o666);
});

test('decimal-looking, over-0777 and malformed modes are refused with a sentence naming the value', () => {
  assert.throws(
    () => parseMode('999'),
    (e: unknown) => e instanceof UsageError && /'999'.*never read as decimal/.test(e.message),
  );
  assert.throws(() => parseMode('4755'), /bits above 0777/);
  assert.throws(() => parseMode('1777'), /bits above 0777/);
  assert.throws(() => parseMode('rw'), /'rw'/);
  assert.throws(() => parseMode('u=rws'), /neither octal/);
  assert.throws(() => parseMode(''), /neither octal/);
});

test('formatMode gives four octal digits', () => {
  assert.equal(formatMode(0o660), '0660');
  assert.equal(formatMode(0o20), '0020');
  assert.equal(formatMode(0), '0000');
});

test("uWSGI's --chmod-socket: bare or 1 is 666, otherwise exactly three octal digits", () => {
  assert.equal(parseUwsgiChmod(true), 0o666);
  assert.equal(parseUwsgiChmod('1'), 0o666);
  assert.equal(parseUwsgiChmod('020'), 0o020);
  assert.equal(parseUwsgiChmod('660'), 0o660);
  assert.throws(() => parseUwsgiChmod('0660'), /exactly three octal digits/);
  assert.throws(() => parseUwsgiChmod('998'), /exactly three octal digits/);
});
