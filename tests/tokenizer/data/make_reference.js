// Reference ids from Hugging Face `tokenizers` (Rust, node bindings).
const { Tokenizer } = require('tokenizers');
const fs = require('fs');
async function main() {
  const [tokFile, textsFile] = process.argv.slice(2, 4);
  const tok = Tokenizer.fromFile(tokFile);
  const texts = JSON.parse(fs.readFileSync(textsFile, 'utf8'));
  const cases = [];
  for (const text of texts) {
    const plain = await tok.encode(text, null, { addSpecialTokens: false });
    const withSpecial = await tok.encode(text, null, { addSpecialTokens: true });
    const ids = Array.from(plain.getIds());
    const decoded = await tok.decode(ids, false);
    const decodedSkip = await tok.decode(ids, true);
    const hex = (s) => Buffer.from(s, 'utf8').toString('hex');
    cases.push({ text, text_hex: hex(text), ids, ids_special: Array.from(withSpecial.getIds()), decoded, decoded_skip_special: decodedSkip, decoded_hex: hex(decoded), decoded_skip_special_hex: hex(decodedSkip) });
  }
  const compact = process.argv[4] === '--compact';
  process.stdout.write((compact ? JSON.stringify({ cases }) : JSON.stringify({ cases }, null, 1)) + '\n');
}
main().catch((e) => { console.error(e); process.exit(1); });
