#!/usr/bin/env node
// Renders a Markdown note the way Obsidian's reading view would, in headless
// Chromium, and checks every ```mermaid block with the real Mermaid package.
//
//   node ci/render/render.mjs NOTE.md [--screenshot OUT.png] [--html OUT.html] [--mermaid DIR]...
//
// Exit 0: every block parsed and rendered ("rendered K mermaid blocks").
// Exit 1: a block failed ("block N (line L of NOTE.md): <message>"), or the
//         render hung. Exit 2: usage, an unreadable note, no Chromium, or
//         node_modules not installed (npm ci --prefix ci/render).
//
// Each block is checked with every Mermaid in the list: by default the one
// Obsidian bundles (package alias `mermaid-obsidian`) and the current one
// (`mermaid`); `--mermaid DIR` (a Mermaid package folder, repeatable) replaces
// the list. The screenshot (and --html, the page as rendered) shows the page
// rendered with the first of them.
//
// Nothing is fetched: raw HTML other than a few harmless inline tags is shown
// as text, images become placeholders, the page forbids scripts and remote
// loads (Content-Security-Policy), and every request that is not data: is
// aborted. Mermaid is injected through the DevTools protocol, which the page's
// policy does not govern.

import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const USAGE = 'usage: node ci/render/render.mjs NOTE.md [--screenshot OUT.png [--height PX]] [--html OUT.html] [--mermaid DIR]...';
const DEFAULT_MERMAIDS = [
  { dir: path.join(HERE, 'node_modules', 'mermaid-obsidian'), label: 'as bundled in Obsidian' },
  { dir: path.join(HERE, 'node_modules', 'mermaid'), label: 'current' },
];
const TIMEOUT_MS = 60_000;

function fail(code, message) {
  process.stderr.write(`render: ${message}\n`);
  process.exit(code);
}

function parseArgs(argv) {
  const opts = { note: null, screenshot: null, height: null, html: null, mermaids: [] };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (arg === '--screenshot' || arg === '--html' || arg === '--mermaid' || arg === '--height') {
      const value = argv[++i];
      if (!value) fail(2, `${arg} needs a value\n${USAGE}`);
      if (arg === '--screenshot') opts.screenshot = value;
      else if (arg === '--height') {
        opts.height = Number.parseInt(value, 10);
        if (!(opts.height > 0)) fail(2, `--height takes a number of pixels, not ${value}\n${USAGE}`);
      }
      else if (arg === '--html') opts.html = value;
      else opts.mermaids.push({ dir: path.resolve(value), label: '' });
    } else if (arg === '-h' || arg === '--help') {
      process.stdout.write(`${USAGE}\n`);
      process.exit(0);
    } else if (arg.startsWith('-')) {
      fail(2, `unknown option ${arg}\n${USAGE}`);
    } else if (opts.note === null) {
      opts.note = arg;
    } else {
      fail(2, `one note at a time (got ${opts.note} and ${arg})\n${USAGE}`);
    }
  }
  if (opts.note === null) fail(2, USAGE);
  if (opts.mermaids.length === 0) opts.mermaids = DEFAULT_MERMAIDS;
  return opts;
}

// Loads the node_modules packages, or exits 2 saying how to install them.
async function loadModules(mermaids) {
  const hint = 'run: npm ci --prefix ci/render';
  // Bare specifiers resolve from this file's folder: ci/render/node_modules.
  const load = async (name) => {
    try {
      return await import(name);
    } catch (e) {
      return fail(2, `cannot load ${name} (${e.code ?? e.message}); ${hint}`);
    }
  };
  const { Marked } = await load('marked');
  const { chromium } = await load('playwright-core');
  const bundles = mermaids.map(({ dir, label }) => {
    const script = path.join(dir, 'dist', 'mermaid.min.js');
    if (!existsSync(script)) fail(2, `no Mermaid at ${script}; ${hint}`);
    const { version } = JSON.parse(readFileSync(path.join(dir, 'package.json'), 'utf8'));
    return { version, label, source: readFileSync(script, 'utf8') };
  });
  return { Marked, chromium, bundles };
}

const escapeHtml = (s) =>
  String(s).replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]);

// YAML front matter: `---` on the first line up to the next `---` line.
function splitFrontMatter(text) {
  const lines = text.split('\n');
  if (lines[0].trimEnd() !== '---') return { props: null, body: text, offset: 0 };
  const end = lines.findIndex((l, i) => i > 0 && (l.trimEnd() === '---' || l.trimEnd() === '...'));
  if (end < 0) return { props: null, body: text, offset: 0 };
  return { props: lines.slice(1, end), body: lines.slice(end + 1).join('\n'), offset: end + 1 };
}

// Obsidian's wiki-links: [[Target]], [[Target|alias]], [[Target#Heading]], ![[embed]].
const WIKILINK = /^(!?)\[\[([^\[\]\n]+?)\]\]/;

function renderWikilink(embed, inner) {
  const bar = inner.search(/\\?\|/);
  const target = (bar < 0 ? inner : inner.slice(0, bar)).trim();
  const alias = bar < 0 ? null : inner.slice(bar).replace(/^\\?\|/, '').trim();
  const shown = alias || target.replace(/#\^?/, ' > ');
  const cls = embed ? 'internal-link internal-embed' : 'internal-link';
  return `<a class="${cls}" data-href="${escapeHtml(target)}">${escapeHtml(shown)}</a>`;
}

// Plain text (a property value) with its wiki-links rendered.
function wikilinkText(text) {
  let out = '';
  let last = 0;
  for (const m of text.matchAll(/(!?)\[\[([^\[\]\n]+?)\]\]/g)) {
    out += escapeHtml(text.slice(last, m.index)) + renderWikilink(m[1] === '!', m[2]);
    last = m.index + m[0].length;
  }
  return out + escapeHtml(text.slice(last));
}

// Front matter as Obsidian's "Properties" box: `key: value` and `- item` lines.
function renderProperties(lines) {
  const rows = [];
  for (const line of lines) {
    const item = /^\s+-\s*(.*)$/.exec(line);
    const pair = /^([^\s:#][^:]*):\s*(.*)$/.exec(line);
    if (item && rows.length) rows[rows.length - 1].values.push(item[1]);
    else if (pair) rows.push({ key: pair[1], values: pair[2] === '' ? [] : [pair[2]] });
  }
  const unquote = (v) => v.replace(/^"(.*)"$/, '$1').replace(/^'(.*)'$/, '$1');
  const cells = rows.map(({ key, values }) =>
    `<div class="property"><div class="property-key">${escapeHtml(key)}</div><div class="property-value">${
      values.map((v) => `<span class="property-pill">${wikilinkText(unquote(v))}</span>`).join(' ')}</div></div>`);
  return `<div class="metadata-container"><div class="metadata-heading">Properties</div>${cells.join('')}</div>`;
}

// Inline HTML Obsidian would show and that cannot run or load anything.
const HARMLESS_TAG = /^<\/?(br|b|i|em|strong|sub|sup|kbd|mark|u|s|del|small)\s*\/?>$/i;

// Markdown to HTML; each mermaid block becomes an empty slot `data-block=N`.
function toHtml(Marked, body, offset) {
  const blocks = [];
  const marked = new Marked({ gfm: true });
  marked.use({
    extensions: [{
      name: 'wikilink',
      level: 'inline',
      start: (src) => { const i = src.search(/!?\[\[/); return i < 0 ? undefined : i; },
      tokenizer(src) {
        const m = WIKILINK.exec(src);
        return m ? { type: 'wikilink', raw: m[0], embed: m[1] === '!', inner: m[2] } : undefined;
      },
      renderer: (t) => renderWikilink(t.embed, t.inner),
    }],
    renderer: {
      code(token) {
        if (token.blockIndex) return `<div class="mermaid-slot" data-block="${token.blockIndex}"></div>\n`;
        return false;
      },
      html: ({ text, block }) => {
        if (!block && HARMLESS_TAG.test(text.trim())) return text;
        return block ? `<p class="raw-html">${escapeHtml(text)}</p>` : escapeHtml(text);
      },
      image: ({ href, text }) =>
        `<span class="image-placeholder">[image not loaded: ${escapeHtml(text || '')} ${escapeHtml(href)}]</span>`,
    },
  });
  const tokens = marked.lexer(body);
  let cursor = 0;
  marked.walkTokens(tokens, (token) => {
    if (token.type !== 'code' || !/^mermaid(\s|$)/.test(token.lang ?? '')) return;
    token.blockIndex = blocks.length + 1;
    const at = body.indexOf(token.raw, cursor);
    const line = at < 0 ? null : offset + body.slice(0, at).split('\n').length;
    if (at >= 0) cursor = at + token.raw.length;
    blocks.push({ line, text: token.text });
  });
  return { html: marked.parser(tokens), blocks };
}

function page(title, props, html) {
  const css = readFileSync(path.join(HERE, 'obsidian.css'), 'utf8');
  const policy = "default-src 'none'; img-src data:; style-src 'unsafe-inline'; font-src data:; script-src 'none'";
  return `<!doctype html><html><head><meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="${policy}">
<style>${css}</style></head><body><div class="markdown-reading-view">
<div class="inline-title">${escapeHtml(title)}</div>
${props ? renderProperties(props) : ''}
${html}
</div></body></html>`;
}

// Runs in the page: parse and render each block; returns one result per block.
async function renderBlocks(sources) {
  const mermaid = globalThis.mermaid;
  mermaid.initialize({ startOnLoad: false, securityLevel: 'strict', theme: 'default', logLevel: 'fatal' });
  const results = [];
  for (let i = 0; i < sources.length; i++) {
    const slot = document.querySelector(`[data-block="${i + 1}"]`) ?? document.body.appendChild(document.createElement('div'));
    try {
      await mermaid.parse(sources[i]);
      const { svg } = await mermaid.render(`mermaid-${i + 1}`, sources[i]);
      if (svg.includes('Syntax error in text')) throw new Error('Mermaid drew its "Syntax error in text" graphic');
      if (/\s(?:x|y|width|height|d|transform|cx|cy|r)="[^"]*NaN/.test(svg) || svg.includes('>NaN%<')) {
        throw new Error('Mermaid drew NaN coordinates (a series shorter than its x-axis? a pie of zeros?)');
      }
      slot.className = 'mermaid';
      slot.innerHTML = svg;
      const drawn = slot.querySelectorAll('svg rect, svg path, svg text, svg circle, svg line').length;
      results.push({ ok: true, drawn });
    } catch (e) {
      const message = String(e?.message ?? e).trim();
      slot.className = 'mermaid-error';
      slot.textContent = message;
      results.push({ ok: false, message });
      document.querySelectorAll(`#dmermaid-${i + 1}, #mermaid-${i + 1}`).forEach((n) => n.remove());
    }
  }
  return results;
}

async function run(opts) {
  let text;
  try {
    text = readFileSync(opts.note, 'utf8');
  } catch (e) {
    fail(2, `cannot read ${opts.note}: ${e.message}`);
  }
  const executablePath = process.env.CHROMIUM || '/usr/bin/chromium';
  if (!existsSync(executablePath)) fail(2, `no Chromium at ${executablePath} (apt-get install chromium, or set CHROMIUM)`);
  const { Marked, chromium, bundles } = await loadModules(opts.mermaids);

  const { props, body, offset } = splitFrontMatter(text.replace(/^\uFEFF/, '').replace(/\r\n?/g, '\n'));
  const { html, blocks } = toHtml(Marked, body, offset);
  const title = path.basename(opts.note).replace(/\.md$/i, '');
  const content = page(title, props, html);

  let browser;
  try {
    browser = await chromium.launch({
      executablePath,
      args: ['--no-sandbox', '--host-resolver-rules=MAP * ~NOTFOUND'],
    });
  } catch (e) {
    fail(2, `cannot start Chromium at ${executablePath}: ${e.message.split('\n')[0]}`);
  }
  const blocked = new Set();
  const failures = [];
  try {
    for (const [n, bundle] of bundles.entries()) {
      const context = await browser.newContext({ viewport: { width: 1000, height: 800 }, javaScriptEnabled: true });
      await context.route('**/*', (route) => {
        const url = route.request().url();
        if (url.startsWith('data:')) return route.continue();
        blocked.add(url);
        return route.abort('blockedbyclient');
      });
      const tab = await context.newPage();
      tab.on('pageerror', (e) => process.stderr.write(`render: page error (mermaid ${bundle.version}): ${e.message}\n`));
      await tab.setContent(content, { waitUntil: 'load' });
      // As a classic script in the page's global scope (page.evaluate would wrap it in a function).
      const cdp = await context.newCDPSession(tab);
      const loaded = await cdp.send('Runtime.evaluate', { expression: bundle.source });
      if (loaded.exceptionDetails) throw new Error(`mermaid ${bundle.version} did not load: ${loaded.exceptionDetails.text}`);
      const results = await tab.evaluate(renderBlocks, blocks.map((b) => b.text));
      results.forEach((r, i) => {
        if (!r.ok) failures.push({ bundle, block: i + 1, line: blocks[i].line, message: r.message });
        else if (r.drawn === 0) process.stderr.write(`render: note: block ${i + 1} drew nothing (mermaid ${bundle.version})\n`);
      });
      if (n === 0 && opts.screenshot) {
        await tab.evaluate(() => document.fonts.ready);
        // --height: only the top of the page (a picture for a README).
        const shot = opts.height
          ? { path: opts.screenshot, fullPage: true, clip: { x: 0, y: 0, width: tab.viewportSize().width, height: opts.height } }
          : { path: opts.screenshot, fullPage: true };
        await tab.screenshot(shot);
      }
      if (n === 0 && opts.html) writeFileSync(opts.html, await tab.content());
      await context.close();
    }
  } finally {
    await browser.close();
  }

  for (const url of blocked) process.stderr.write(`render: note: blocked a request for ${url}\n`);
  const versions = bundles.map((b) => `${b.version}${b.label ? ` (${b.label})` : ''}`).join(' and ');
  if (failures.length) {
    const where = (f) => `block ${f.block} (line ${f.line ?? '?'} of ${opts.note})`;
    failures.sort((a, b) => a.block - b.block);
    for (const f of failures) {
      const message = f.message.replace(/\n/g, '\n    ');
      process.stdout.write(`${where(f)}: [mermaid ${f.bundle.version}] ${message}\n`);
    }
    const bad = new Set(failures.map((f) => f.block)).size;
    process.stdout.write(`${bad} of ${blocks.length} mermaid blocks failed (mermaid ${versions})\n`);
    return 1;
  }
  process.stdout.write(`rendered ${blocks.length} mermaid blocks with mermaid ${versions}` +
    `${opts.screenshot ? `; screenshot ${opts.screenshot}` : ''}\n`);
  return 0;
}

const opts = parseArgs(process.argv.slice(2));
const timer = setTimeout(() => fail(1, `rendering ${opts.note} took longer than ${TIMEOUT_MS / 1000} s`), TIMEOUT_MS);
timer.unref();
process.exitCode = await run(opts);
