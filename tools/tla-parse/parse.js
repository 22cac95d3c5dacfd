#!/usr/bin/env node
// Parses a TLA+ module with the official grammar (@tlaplus/tree-sitter-tlaplus, loaded as wasm
// through web-tree-sitter: no native build) and checks names against it.
//
//   node parse.js <module.tla> [--readme <README.md>] [--listed-from <file>]...
//                 [--not-invariants A,B] [--actions-from <model.h>] [--names-from <file.cpp>]...
//                 [--not-actions A,B] [--glossary <semantics.md>] [--glossary-column COL=DIR,DIR]...
//
// Fails (exit 1) when the module has a syntax error (every ERROR / MISSING node is reported with
// its line and column), when an invariant listed in the README's "Invariants" section is not
// defined in the module, or when a name a --listed-from file checks (C++ `{"Name", check}`
// entries: the model's invariants, the Z3 proofs' invariants) is not listed in the README
// (--not-invariants lists names that are deliberately not spec invariants, e.g. the proofs'
// strengthenings), or when a step function the --actions-from header declares
// (`Result snake_case(`) has no action of the same name in PascalCase in the module (so every API
// call of the model is an action of the spec, under the same name), or when a --names-from file
// (conformance commands, Z3 proof actions) uses a name the module does not define: the names of
// command classes (`class X final : public ...`) and every string literal that starts like an
// action name ("AttachDevice(pid=", "HandleClose(grant).Start", "DmaBegin"). --not-actions lists
// names that deliberately have no spec counterpart (e.g. CPU access through a mapping).
// --glossary: every name the "## Glossary" table of the file gives in its spec column must be
// defined in the module (`Name`, `Name(args)`, `var[x]`), and every record field it names
// (`x.field`) must be one the module builds (`field |->`), so the glossary cannot drift from the
// spec. --glossary-column model=model,impl/include (repeatable): every identifier in the code
// spans of that column (paths and file names aside) must occur as a word in the C++ sources or
// CMakeLists.txt below one of the directories, so no layer's glossary entry names a name that
// layer does not have.
// Exit 2: usage or missing file.
'use strict';

const fs = require('fs');
const path = require('path');

let Parser;
try {
  Parser = require('web-tree-sitter');
  require.resolve('@tlaplus/tree-sitter-tlaplus/tree-sitter-tlaplus.wasm');
} catch (e) {
  console.error('tla-parse: the TLA+ grammar is not installed in tools/tla-parse/node_modules;');
  console.error('run scripts/bootstrap (npm install --ignore-scripts --legacy-peer-deps there)');
  process.exit(2);
}

function usage(msg) {
  console.error(`tla-parse: ${msg}`);
  console.error('usage: parse.js <module.tla> [--readme README.md] [--listed-from FILE]... ' +
                '[--not-invariants A,B] [--actions-from HEADER]... [--names-from FILE]... ' +
                '[--not-actions A,B] [--glossary FILE] [--glossary-column COL=DIR,DIR]...');
  process.exit(2);
}

function parseArgs(argv) {
  const opts = { module: null, readme: null, listedFrom: [], actionsFrom: [], namesFrom: [], notActions: [],
                 notInvariants: [], glossary: null, glossaryColumns: [] };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (['--readme', '--listed-from', '--actions-from', '--names-from', '--not-actions',
         '--not-invariants', '--glossary', '--glossary-column'].includes(a)) {
      if (i + 1 >= argv.length) usage(`${a} needs an argument`);
      if (a === '--readme') opts.readme = argv[++i];
      else if (a === '--glossary') opts.glossary = argv[++i];
      else if (a === '--glossary-column') {
        const [column, dirs] = argv[++i].split('=');
        if (!dirs) usage('--glossary-column needs COLUMN=DIR[,DIR...]');
        opts.glossaryColumns.push({ column, dirs: dirs.split(',').filter((d) => d) });
      }
      else if (a === '--listed-from') opts.listedFrom.push(argv[++i]);
      else if (a === '--names-from') opts.namesFrom.push(argv[++i]);
      else if (a === '--not-actions') opts.notActions.push(...argv[++i].split(',').filter((x) => x));
      else if (a === '--not-invariants') opts.notInvariants.push(...argv[++i].split(',').filter((x) => x));
      else opts.actionsFrom.push(argv[++i]);
    } else if (!opts.module) {
      opts.module = a;
    } else {
      usage(`unexpected argument ${a}`);
    }
  }
  if (!opts.module) usage('no module given');
  return opts;
}

function read(file) {
  try {
    return fs.readFileSync(file, 'utf8');
  } catch (e) {
    usage(`cannot read ${file}: ${e.message}`);
  }
}

// Every ERROR or MISSING node, depth first.
function syntaxErrors(node, out) {
  if (node.type === 'ERROR' || node.isMissing) out.push(node);
  for (let i = 0; i < node.childCount; i++) syntaxErrors(node.child(i), out);
  return out;
}

// Names defined at any level: operators, functions, constants, variables.
function definedNames(root) {
  const names = new Set();
  for (const def of root.descendantsOfType(['operator_definition', 'function_definition'])) {
    const name = def.childForFieldName('name');
    if (name) names.add(name.text);
  }
  for (const decl of root.descendantsOfType(['constant_declaration', 'variable_declaration'])) {
    for (const id of decl.descendantsOfType('identifier')) names.add(id.text);
  }
  return names;
}

// Names listed as "- `Name`" bullets under the README's "## Invariants" heading.
function readmeInvariants(text) {
  const names = [];
  let inSection = false;
  for (const line of text.split('\n')) {
    if (/^#+\s/.test(line)) inSection = /^#+\s+Invariants\b/.test(line);
    const m = inSection && line.match(/^[-*]\s+`([A-Za-z][A-Za-z0-9_]*)`/);
    if (m) names.push(m[1]);
  }
  return names;
}

// The `code` spans of the column whose header starts with `prefix` in the table under the
// "## Glossary" heading.
function glossaryColumn(text, prefix) {
  const spans = [];
  let inSection = false, column = -1;
  for (const line of text.split('\n')) {
    if (/^#+\s/.test(line)) { inSection = /^#+\s+Glossary\b/.test(line); column = -1; }
    if (!inSection || !line.startsWith('|')) continue;
    const cells = line.split('|').slice(1, -1).map((c) => c.trim());
    if (column < 0) { column = cells.findIndex((c) => c.startsWith(prefix)); continue; }
    if (cells.every((c) => /^-+$/.test(c)) || column >= cells.length) continue;
    for (const m of cells[column].matchAll(/`([^`]+)`/g)) spans.push(m[1]);
  }
  return spans;
}

// The C++ sources and CMakeLists.txt below `dir` (recursively, build trees and node_modules aside).
function sourcesText(dir) {
  let out = '';
  let entries;
  try {
    entries = fs.readdirSync(dir, { withFileTypes: true });
  } catch (e) {
    usage(`cannot read ${dir}: ${e.message}`);
  }
  for (const e of entries) {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) {
      if (e.name !== 'node_modules' && !e.name.startsWith('build')) out += sourcesText(p);
    } else if (/\.(h|cpp|hpp)$/.test(e.name) || e.name === 'CMakeLists.txt') {
      out += fs.readFileSync(p, 'utf8') + '\n';
    }
  }
  return out;
}

async function main() {
  const opts = parseArgs(process.argv.slice(2));
  const source = read(opts.module);
  await Parser.init();
  const wasm = require.resolve('@tlaplus/tree-sitter-tlaplus/tree-sitter-tlaplus.wasm');
  const lang = await Parser.Language.load(wasm);
  const parser = new Parser();
  parser.setLanguage(lang);
  const tree = parser.parse(source);
  const problems = [];

  if (tree.rootNode.hasError) {
    for (const n of syntaxErrors(tree.rootNode, [])) {
      const where = `${path.basename(opts.module)}:${n.startPosition.row + 1}:${n.startPosition.column + 1}`;
      const what = n.isMissing ? `missing ${n.type}` : `syntax error near "${n.text.slice(0, 40)}"`;
      problems.push(`${where}: ${what}`);
    }
    if (problems.length === 0) problems.push('syntax error (hasError) at an unknown place');
  }

  const defined = definedNames(tree.rootNode);
  let listed = [];
  if (opts.readme) {
    listed = readmeInvariants(read(opts.readme));
    if (listed.length === 0) problems.push(`${opts.readme}: no invariants listed under "## Invariants"`);
    for (const name of listed) {
      if (!defined.has(name)) problems.push(`${opts.readme}: invariant ${name} is not defined in the module`);
    }
  }
  for (const file of opts.listedFrom) {
    const checked = [...read(file).matchAll(/\{"([A-Z][A-Za-z0-9_]*)",/g)].map((m) => m[1]);
    if (checked.length === 0) problems.push(`${file}: no checked invariant names found`);
    for (const name of checked) {
      if (!listed.includes(name) && !opts.notInvariants.includes(name))
        problems.push(`${file}: checks ${name}, which the README does not list`);
    }
  }

  let actions = 0;
  for (const file of opts.actionsFrom) {
    const steps = [...read(file).matchAll(/^Result\s+([a-z][a-z0-9_]*)\s*\(/gm)].map((m) => m[1]);
    if (steps.length === 0) problems.push(`${file}: no step functions found`);
    for (const step of steps) {
      const action = step.split('_').map((w) => w[0].toUpperCase() + w.slice(1)).join('');
      if (!defined.has(action)) problems.push(`${file}: ${step} has no action ${action} in the module`);
      actions++;
    }
  }

  // Command classes and action-like string literals of the suite and the proofs.
  let names = 0;
  for (const file of opts.namesFrom) {
    const text = read(file);
    const used = new Set();
    for (const m of text.matchAll(/^class\s+([A-Z][A-Za-z0-9]*)\s+final\s*:/gm)) used.add(m[1]);
    for (const m of text.matchAll(/"([A-Z][a-z][A-Za-z0-9]*)(?:[("]|\.[A-Z])/g)) used.add(m[1]);
    if (used.size === 0) problems.push(`${file}: no command or action names found`);
    for (const name of used) {
      if (!defined.has(name) && !opts.notActions.includes(name))
        problems.push(`${file}: ${name} is not an action (or operator) of the module`);
      names++;
    }
  }

  let glossaryNames = 0;
  if (opts.glossary) {
    const spans = glossaryColumn(read(opts.glossary), 'spec');
    if (spans.length === 0) problems.push(`${opts.glossary}: no spec column in a "## Glossary" table`);
    for (const span of spans) {
      const head = span.match(/^[A-Za-z_][A-Za-z0-9_]*/);
      if (head && !defined.has(head[0]))
        problems.push(`${opts.glossary}: glossary names ${head[0]}, which the module does not define`);
      for (const f of span.matchAll(/\.([A-Za-z_][A-Za-z0-9_]*)/g)) {
        if (!new RegExp(`\\b${f[1]}\\s*\\|->`).test(source))
          problems.push(`${opts.glossary}: glossary names the field ${f[1]}, which the module never sets`);
      }
      glossaryNames++;
    }
    for (const { column, dirs } of opts.glossaryColumns) {
      const text = dirs.map(sourcesText).join('\n');
      const colSpans = glossaryColumn(read(opts.glossary), column);
      if (colSpans.length === 0) problems.push(`${opts.glossary}: no ${column} column in the glossary`);
      for (const span of colSpans) {
        if (span.includes('/') || /\.(cpp|h|md|tla|sh)$/.test(span)) continue;  // a path or a file
        for (const word of span.match(/[A-Za-z_][A-Za-z0-9_]*/g) || []) {
          const tail = word.endsWith('_') ? '' : '\\b';  // DMA_DIR_* is a prefix
          if (!new RegExp(`\\b${word}${tail}`).test(text))
            problems.push(`${opts.glossary}: the ${column} column names ${word}, which ${dirs.join(', ')} never uses`);
          glossaryNames++;
        }
      }
    }
  }

  if (problems.length > 0) {
    for (const p of problems) console.error(`FAIL ${p}`);
    process.exit(1);
  }
  console.log(`OK ${path.basename(opts.module)}: parsed without error, ${defined.size} names defined` +
              (opts.readme ? `, all ${listed.length} listed invariants defined` : '') +
              (actions ? `, all ${actions} model step functions have an action` : '') +
              (names ? `, all ${names} suite/proof names are spec names` : '') +
              (glossaryNames ? `, all ${glossaryNames} glossary names found where they belong` : ''));
}

main().catch((e) => {
  console.error(`tla-parse: ${e.stack || e}`);
  process.exit(2);
});
