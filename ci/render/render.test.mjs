// Tests of render.mjs: the happy path (sample.md), a broken chart, a note
// without charts, hostile text and hostile chart labels, and usage errors.
// Run: node --test ci/render/render.test.mjs (needs npm ci --prefix ci/render
// and Debian's chromium).

import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const TOOL = path.join(HERE, 'render.mjs');
const OBSIDIAN_ONLY = ['--mermaid', path.join(HERE, 'node_modules', 'mermaid-obsidian')];
const tmp = mkdtempSync(path.join(tmpdir(), 'render-test-'));
after(() => rmSync(tmp, { recursive: true, force: true }));

function render(args, env = {}) {
  return new Promise((resolve) => {
    execFile('node', [TOOL, ...args], { env: { ...process.env, ...env } }, (error, stdout, stderr) =>
      resolve({ code: error ? error.code : 0, stdout, stderr }));
  });
}

function note(name, text) {
  const file = path.join(tmp, name);
  writeFileSync(file, text);
  return file;
}

// The rule the report generator uses for an actor or skill name in a chart
// label: keep letters and digits of any script and [ _.:/@-], replace
// anything else with `_`, squeeze
// runs, cap the length, never empty, never a duplicate (Mermaid merges equal
// categories and pie slices), and always write the label in double quotes.
function chartLabel(raw, used, max = 24) {
  let label = raw.replace(/[^\p{Alphabetic}\p{N} _.:/@-]/gu, '_').replace(/ +/g, ' ').replace(/_+/g, '_').trim();
  if (!/[\p{Alphabetic}\p{N}]/u.test(label)) label = 'unnamed';
  if (label.length > max) label = `${label.slice(0, max - 3)}...`;
  let unique = label;
  for (let n = 2; used.has(unique); n++) unique = `${label}-${n}`;
  used.add(unique);
  return unique;
}

const HOSTILE = [
  'claude-code', 'a"b', '"]; bar [999', 'x-axis ["pwn"]', '%%{init: {"theme": "dark"}}%%', '%% comment',
  '<script>alert(1)</script>', '<img src=x onerror=alert(1)>', '#quot;#35;#59;', 'a;b', 'a#b', 'a,b',
  'line one\nbar [1, 2]', '```', '[[Wiki|link]]', '\u202eevil', 'José Ñandú', '日本語', 'ёжик', 'हिन्दी', 'العربية', 'ⓐⓑ', 'bot🤖', '   ', '',
  'x'.repeat(300), 'bob?', 'bob!', 'title', 'bar', '--> 5', 'svc/ci@host:1', 'a\\b', 'a`b', '{x}', 'a|b',
];

function hostileCharts(label) {
  const used = new Set();
  const names = HOSTILE.map((raw) => label(raw, used));
  const quoted = names.map((n) => `"${n}"`).join(', ');
  return [
    '```mermaid\nxychart-beta\n  title "Failures per actor"\n' +
      `  x-axis [${quoted}]\n  y-axis "Failures" 0 --> 40\n  bar [${names.map((_, i) => i + 1).join(', ')}]\n\`\`\``,
    '```mermaid\nxychart-beta horizontal\n' +
      `  x-axis [${quoted}]\n  bar [${names.map((_, i) => i + 1).join(', ')}]\n\`\`\``,
    `\`\`\`mermaid\npie showData title Actions by actor\n${names.map((n, i) => `  "${n}" : ${i + 1}`).join('\n')}\n\`\`\``,
  ].join('\n\n');
}

// Each test starts its own Chromium; two at a time keep a 2-core machine busy.
describe('render.mjs', { concurrency: 2 }, () => {
  test('the sample renders, with a screenshot', async () => {
    const png = path.join(tmp, 'sample.png');
    const { code, stdout, stderr } = await render([path.join(HERE, 'sample.md'), '--screenshot', png]);
    assert.equal(code, 0, stdout + stderr);
    assert.match(stdout, /^rendered 8 mermaid blocks with mermaid 11\.13\.0 \(as bundled in Obsidian\) and 12\.3\.0/);
    const image = readFileSync(png);
    assert.equal(image.subarray(1, 4).toString(), 'PNG');
    assert.ok(image.readUInt32BE(20) > 2000, 'a full-page screenshot');
  });

  test('a broken block fails, named by number and line, in both Mermaids', async () => {
    const file = path.join(HERE, 'test', 'broken.md');
    const { code, stdout } = await render([file]);
    assert.equal(code, 1, stdout);
    for (const version of ['11.13.0', '12.3.0']) {
      assert.ok(stdout.includes(`block 2 (line 12 of ${file}): [mermaid ${version}] Parse error on line 3`), stdout);
      assert.ok(stdout.includes(`block 4 (line 27 of ${file}): [mermaid ${version}] No diagram type detected`), stdout);
    }
    assert.doesNotMatch(stdout, /^block [13] /m);
    assert.match(stdout, /^2 of 4 mermaid blocks failed/m);
  });

  test('a note without mermaid blocks passes and says 0', async () => {
    const { code, stdout } = await render([path.join(HERE, 'test', 'no-charts.md'), ...OBSIDIAN_ONLY]);
    assert.equal(code, 0);
    assert.match(stdout, /^rendered 0 mermaid blocks/);
  });

  test('raw HTML is not run and nothing remote is fetched', async () => {
    const hits = [];
    const server = createServer((req, res) => { hits.push(req.url); res.end('x'); });
    await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
    const base = `http://127.0.0.1:${server.address().port}`;
    const file = note('hostile-text.md', [
      '# <script>document.title = "ran"</script>',
      '',
      `Inline <script>fetch("${base}/inline-script")</script> and <img src="${base}/raw-img" onerror="alert(1)">.`,
      '',
      '<script>',
      `fetch("${base}/block-script"); document.body.innerHTML = "PWNED";`,
      '</script>',
      '',
      `<iframe src="${base}/iframe"></iframe>`,
      '',
      `![remote image](${base}/markdown-image.png) and [a link](${base}/link) and [js](javascript:alert(1)).`,
      '',
      `<link rel="stylesheet" href="${base}/style.css"><style>@import "${base}/import.css";</style>`,
      '',
      '```mermaid',
      'pie title Fine',
      '  "a" : 1',
      '```',
    ].join('\n'));
    const dump = path.join(tmp, 'hostile-text.html');
    const { code, stdout, stderr } = await render([file, '--html', dump, ...OBSIDIAN_ONLY]);
    server.close();
    assert.equal(code, 0, stdout + stderr);
    assert.deepEqual(hits, []);
    const html = readFileSync(dump, 'utf8');
    const body = html.slice(html.indexOf('<body>'));
    assert.doesNotMatch(body, /<(script|iframe|img|link|style)\b[^>]*(src|href)=/i);
    assert.doesNotMatch(body, /<script/i);
    assert.match(body, /&lt;script&gt;fetch/);
    assert.match(body, /class="mermaid"/, 'the chart still rendered');
    assert.doesNotMatch(body, /PWNED<\/body>/);
  });

  test('hostile actor names fail raw and render once sanitised', async () => {
    const raw = note('labels-raw.md', hostileCharts((name) => name));
    const clean = note('labels-clean.md', hostileCharts(chartLabel));
    const dump = path.join(tmp, 'labels-clean.html');
    const bad = await render([raw, ...OBSIDIAN_ONLY]);
    assert.equal(bad.code, 1, 'unsanitised names break the charts');
    const good = await render([clean, '--html', dump]);
    assert.equal(good.code, 0, good.stdout + good.stderr);
    assert.match(good.stdout, /^rendered 3 mermaid blocks/);
    const html = readFileSync(dump, 'utf8');
    for (const label of ['a_b', '_ bar _999', 'unnamed', 'unnamed-2', 'bob_', 'bob_-2', 'svc/ci@host:1', 'José Ñandú', 'ёжик', '日本語']) {
      assert.ok(html.includes(`>${label}</text>`) || html.includes(`>${label} [`), `label ${label} drawn`);
    }
  });

  test('a chart with no categories, no series or too few values is an error', async () => {
    const file = note('empty-data.md', [
      '```mermaid\nxychart-beta\n  x-axis []\n  bar []\n```',
      '```mermaid\nxychart-beta\n  x-axis ["a", "b"]\n```',
      '```mermaid\nxychart-beta\n  x-axis ["a", "b", "c"]\n  bar [1, 2]\n```',
    ].join('\n\n'));
    const { code, stdout } = await render([file, ...OBSIDIAN_ONLY]);
    assert.equal(code, 1);
    assert.match(stdout, /^block 1 \(line 1 of .*got 'SQUARE_BRACES_END'/s);
    assert.match(stdout, /^block 2 \(line 7 of /m);
    assert.match(stdout, /^block 3 \(line 12 of .*: \[mermaid 11\.13\.0\] Mermaid drew NaN coordinates/m);
  });

  test('usage errors and a missing Chromium exit 2', async () => {
    assert.equal((await render([])).code, 2);
    assert.equal((await render(['--bogus', 'x.md'])).code, 2);
    assert.equal((await render([path.join(tmp, 'no-such-note.md')])).code, 2);
    assert.equal((await render([path.join(HERE, 'sample.md'), '--screenshot'])).code, 2);
    const noChromium = await render([path.join(HERE, 'sample.md')], { CHROMIUM: path.join(tmp, 'no-chromium') });
    assert.equal(noChromium.code, 2);
    assert.match(noChromium.stderr, /no Chromium at/);
  });
});
