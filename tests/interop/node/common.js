'use strict';
// Shared helpers for the node-smpp interop peers: print events as JSON lines (the Python tests
// read them from stdout) and describe PDUs both as node-smpp decoded them and as raw octets.

const smpp = require('smpp');

const PDU = smpp.PDU;

/** Print one event as a JSON line; Buffers become hex strings. */
function emit(event, fields) {
  process.stdout.write(JSON.stringify(Object.assign({ event: event }, fields), jsonable) + '\n');
}

function jsonable(key, value) {
  if (value && value.type === 'Buffer' && Array.isArray(value.data)) {
    return Buffer.from(value.data).toString('hex');
  }
  return value;
}

/** The PDU's fields as node-smpp parsed them before its text decoding (octets stay octets). */
function rawFields(buffer) {
  const raw = Object.create(PDU.prototype);
  raw._filter = function () {};
  raw.fromBuffer(buffer);
  delete raw._filter;
  return raw;
}

/** Keep a copy of every PDU's wire octets on the PDU object as `_raw`. */
function keepRawOctets() {
  const original = PDU.prototype.fromBuffer;
  PDU.prototype.fromBuffer = function (buffer) {
    Object.defineProperty(this, '_raw', { value: Buffer.from(buffer), enumerable: false });
    return original.call(this, buffer);
  };
}

/** A JSON-friendly description of a received PDU: node's decoded view plus raw octets. */
function describe(pdu) {
  const out = {};
  for (const key of Object.keys(pdu)) {
    const value = pdu[key];
    if (value && typeof value === 'object' && !Buffer.isBuffer(value) && 'message' in value) {
      out[key] = {
        text: typeof value.message === 'string' ? value.message : null,
        octets: Buffer.isBuffer(value.message) ? value.message.toString('hex') : null,
        udh: value.udh ? value.udh.map((u) => Buffer.from(u).toString('hex')) : null,
      };
    } else if (Buffer.isBuffer(value)) {
      out[key] = value.toString('hex');
    } else if (typeof value !== 'function') {
      out[key] = value;
    }
  }
  if (pdu._raw) {
    out.pdu_hex = pdu._raw.toString('hex');
    const raw = rawFields(pdu._raw);
    if (Buffer.isBuffer(raw.short_message)) out.short_message_hex = raw.short_message.toString('hex');
    if (Buffer.isBuffer(raw.message_payload)) out.message_payload_hex = raw.message_payload.toString('hex');
  }
  return out;
}

/** Read JSON commands from stdin, one per line, and hand each to `handler`. */
function onStdinCommands(handler) {
  let pending = '';
  process.stdin.setEncoding('utf8');
  process.stdin.on('data', (chunk) => {
    pending += chunk;
    let newline;
    while ((newline = pending.indexOf('\n')) >= 0) {
      const line = pending.slice(0, newline).trim();
      pending = pending.slice(newline + 1);
      if (line) handler(JSON.parse(line));
    }
  });
}

/** Turn hex strings into Buffers for the fields the tests pass as octets (`*_hex`). */
function withOctets(fields) {
  const out = {};
  for (const [key, value] of Object.entries(fields)) {
    if (key.endsWith('_hex')) out[key.slice(0, -4)] = Buffer.from(value, 'hex');
    else out[key] = value;
  }
  return out;
}

module.exports = { smpp, emit, describe, keepRawOctets, onStdinCommands, withOctets };
