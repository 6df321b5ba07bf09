import { describe, expect, it } from 'vitest';
import { parseCsv } from '../../functions/cli/csv.js';

/** Parse CSV one character at a time, the way the import CLI first did. parseCsv must return the same rows. */
function parseByCharacter(text: string): string[][] {
  const rows: string[][] = [];
  let row: string[] = [];
  let field = '';
  let quoted = false;
  for (let i = 0; i < text.length; i += 1) {
    const c = text[i];
    if (quoted) {
      if (c === '"' && text[i + 1] === '"') {
        field += '"';
        i += 1;
      } else if (c === '"') quoted = false;
      else field += c;
    } else if (c === '"') quoted = true;
    else if (c === ',') {
      row.push(field);
      field = '';
    } else if (c === '\n' || c === '\r') {
      if (c === '\r' && text[i + 1] === '\n') i += 1;
      row.push(field);
      rows.push(row);
      row = [];
      field = '';
    } else field += c;
  }
  if (field || row.length) {
    row.push(field);
    rows.push(row);
  }
  return rows;
}

describe('parseCsv', () => {
  const cases: [string, string, string[][]][] = [
    ['plain rows', 'certificate,creditCode\nA,1\n', [['certificate', 'creditCode'], ['A', '1']]],
    ['CRLF line ends', 'a,b\r\nc,d\r\n', [['a', 'b'], ['c', 'd']]],
    ['lone CR line ends', 'a\rb\r', [['a'], ['b']]],
    ['no final line break', 'a,b\nc,d', [['a', 'b'], ['c', 'd']]],
    ['quoted comma and line break', '"x,y\nz",2\n', [['x,y\nz', '2']]],
    ['doubled quote', '"say ""hi""",3\n', [['say "hi"', '3']]],
    ['quote inside an unquoted field', 'a"b,c"d,e\n', [['ab,cd', 'e']]],
    ['unclosed quote runs to the end', 'a,"b\nc', [['a', 'b\nc']]],
    ['empty fields', ',,\n', [['', '', '']]],
    ['empty line', 'a\n\nb\n', [['a'], [''], ['b']]],
    ['empty text', '', []],
    ['quote at the very end', 'a,""', [['a', '']]],
  ];
  for (const [name, text, expected] of cases) {
    it(`parses ${name}`, () => {
      expect(parseCsv(text)).toEqual(expected);
    });
  }

  it('matches character-by-character parsing', () => {
    const alphabet = ['a', 'b', ',', '"', '\n', '\r', '""', '\r\n', 'é'];
    let seed = 1;
    const random = () => {
      seed = (seed * 1103515245 + 12345) % 2 ** 31;
      return seed / 2 ** 31;
    };
    for (let run = 0; run < 2000; run += 1) {
      const length = Math.floor(random() * 30);
      const text = Array.from({ length }, () => alphabet[Math.floor(random() * alphabet.length)]).join('');
      expect(parseCsv(text), JSON.stringify(text)).toEqual(parseByCharacter(text));
    }
  });

  it('parses a PEM bundle column', () => {
    const pem = '-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----';
    const rows = parseCsv(`certificate,creditCode\n"${pem}",91440300MA5EXAMPLE\n"${pem}",91440300MA5EXAMPL2\n`);
    expect(rows).toHaveLength(3);
    expect(rows[1]).toEqual([pem, '91440300MA5EXAMPLE']);
    expect(rows[2]).toEqual([pem, '91440300MA5EXAMPL2']);
  });
});
