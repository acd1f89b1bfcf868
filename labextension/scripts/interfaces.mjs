// Print the exported interfaces and type aliases of a TypeScript file as JSON, read with the
// TypeScript compiler API (syntax only: no type checking, no other file is read).
//
//   node scripts/interfaces.mjs src/tokens.ts
//
// Output: {"interfaces": {Name: {"extends": [...], "properties": [{name, optional, type, text}],
// "index": type | null}}, "aliases": {Name: type}}, where a type is a small tree:
//   {"kind": "string" | "number" | "boolean" | "null" | "undefined" | "unknown" | "any"}
//   {"kind": "literal", "value": "ok" | 1 | true}
//   {"kind": "union", "types": [type, ...]}
//   {"kind": "array", "items": type}           T[], Array<T>, ReadonlyArray<T>
//   {"kind": "tuple", "items": [type, ...]}
//   {"kind": "record", "value": type}          Record<string, T>
//   {"kind": "object", "properties": [...], "index": type | null}   { a: T; [k: string]: U }
//   {"kind": "ref", "name": "IRunRow"}         another interface or alias (resolved by the reader)
//   {"kind": "unsupported", "text": "..."}     anything else (the reader reports it)
// tests/test_sidebar_contract.py compares this with the schemas of docs/rest-api.yaml.
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);
const ts = require('typescript');

const file = process.argv[2];
if (!file) {
  console.error('usage: node scripts/interfaces.mjs FILE.ts');
  process.exit(2);
}
const source = ts.createSourceFile(file, readFileSync(file, 'utf8'), ts.ScriptTarget.Latest, true);

function describe(node) {
  switch (node.kind) {
    case ts.SyntaxKind.StringKeyword:
      return { kind: 'string' };
    case ts.SyntaxKind.NumberKeyword:
      return { kind: 'number' };
    case ts.SyntaxKind.BooleanKeyword:
      return { kind: 'boolean' };
    case ts.SyntaxKind.UndefinedKeyword:
      return { kind: 'undefined' };
    case ts.SyntaxKind.UnknownKeyword:
      return { kind: 'unknown' };
    case ts.SyntaxKind.AnyKeyword:
      return { kind: 'any' };
    case ts.SyntaxKind.ParenthesizedType:
      return describe(node.type);
    case ts.SyntaxKind.UnionType:
      return { kind: 'union', types: node.types.map(describe) };
    case ts.SyntaxKind.ArrayType:
      return { kind: 'array', items: describe(node.elementType) };
    case ts.SyntaxKind.TupleType:
      return { kind: 'tuple', items: node.elements.map(describe) };
    case ts.SyntaxKind.TypeLiteral:
      return { kind: 'object', ...members(node.members) };
    case ts.SyntaxKind.LiteralType:
      return literal(node.literal);
    case ts.SyntaxKind.TypeReference:
      return reference(node);
    default:
      return { kind: 'unsupported', text: node.getText(source) };
  }
}

function literal(node) {
  switch (node.kind) {
    case ts.SyntaxKind.NullKeyword:
      return { kind: 'null' };
    case ts.SyntaxKind.StringLiteral:
      return { kind: 'literal', value: node.text };
    case ts.SyntaxKind.NumericLiteral:
      return { kind: 'literal', value: Number(node.text) };
    case ts.SyntaxKind.TrueKeyword:
      return { kind: 'literal', value: true };
    case ts.SyntaxKind.FalseKeyword:
      return { kind: 'literal', value: false };
    default:
      return { kind: 'unsupported', text: node.getText(source) };
  }
}

function reference(node) {
  const name = node.typeName.getText(source);
  const args = node.typeArguments ?? [];
  if ((name === 'Array' || name === 'ReadonlyArray') && args.length === 1) {
    return { kind: 'array', items: describe(args[0]) };
  }
  if (name === 'Record' && args.length === 2 && args[0].kind === ts.SyntaxKind.StringKeyword) {
    return { kind: 'record', value: describe(args[1]) };
  }
  if (args.length === 0) {
    return { kind: 'ref', name };
  }
  return { kind: 'unsupported', text: node.getText(source) };
}

function members(nodes) {
  const properties = [];
  let index = null;
  for (const member of nodes) {
    if (ts.isPropertySignature(member)) {
      properties.push({
        name: member.name.getText(source).replace(/^['"]|['"]$/g, ''),
        optional: member.questionToken !== undefined,
        type: member.type ? describe(member.type) : { kind: 'any' },
        text: member.type ? member.type.getText(source) : 'any'
      });
    } else if (ts.isIndexSignatureDeclaration(member)) {
      index = describe(member.type);
    } else {
      properties.push({
        name: member.name ? member.name.getText(source) : '?',
        optional: false,
        type: { kind: 'unsupported', text: member.getText(source) },
        text: member.getText(source)
      });
    }
  }
  return { properties, index };
}

function exported(node) {
  return (node.modifiers ?? []).some(m => m.kind === ts.SyntaxKind.ExportKeyword);
}

const interfaces = {};
const aliases = {};
for (const statement of source.statements) {
  if (ts.isInterfaceDeclaration(statement) && exported(statement)) {
    const bases = (statement.heritageClauses ?? []).flatMap(clause =>
      clause.types.map(t => t.expression.getText(source))
    );
    interfaces[statement.name.text] = { extends: bases, ...members(statement.members) };
  } else if (ts.isTypeAliasDeclaration(statement)) {
    aliases[statement.name.text] = describe(statement.type);
  }
}
process.stdout.write(JSON.stringify({ interfaces, aliases }, null, 1) + '\n');
