'use strict';
// node-smpp as a tenant (ESME) client, driven by JSON commands on stdin so a Python test can
// play a conversation step by step and see each answer:
//   {"cmd": "connect", "host": "127.0.0.1", "port": 2775}
//   {"cmd": "send", "tag": "t1", "command": "submit_sm", "fields": {...}}
//       fields as node-smpp takes them; "x_hex": "..." gives field x as octets, and
//       "short_message": {"udh_hex": "...", "message": "..."} a message with a UDH.
//   {"cmd": "deliver_status", "status": 0}   what to answer deliver_sm / data_sm with
//   {"cmd": "close"}
// Prints JSON lines: connected, resp {tag, pdu}, pdu {pdu} for requests from the server
// (answered automatically), closed, error.

const { smpp, emit, describe, keepRawOctets, onStdinCommands, withOctets } = require('./common');

keepRawOctets();

let session = null;
let deliverStatus = 0;

function nodeFields(fields) {
  const out = withOctets(fields || {});
  for (const key of ['short_message', 'message_payload']) {
    const value = out[key];
    if (value && typeof value === 'object' && !Buffer.isBuffer(value) && 'udh_hex' in value) {
      out[key] = { udh: Buffer.from(value.udh_hex, 'hex'), message: value.message };
    }
  }
  return out;
}

function connect(command) {
  session = smpp.connect({ url: 'smpp://' + command.host + ':' + command.port, auto_enquire_link_period: 0 });
  session.on('connect', () => emit('connected', {}));
  session.on('error', (err) => emit('error', { error: String(err && err.message || err) }));
  session.on('close', () => emit('closed', {}));
  session.on('pdu', (pdu) => {
    if (pdu.isResponse()) return;
    emit('pdu', { pdu: describe(pdu) });
    if (pdu.command === 'deliver_sm' || pdu.command === 'data_sm') {
      session.send(pdu.response({ command_status: deliverStatus }));
    } else if (pdu.command === 'enquire_link' || pdu.command === 'unbind') {
      session.send(pdu.response());
    }
  });
}

function send(command) {
  let pdu;
  try {
    pdu = new smpp.PDU(command.command, nodeFields(command.fields));
  } catch (err) {
    return emit('error', { tag: command.tag, error: String(err) });
  }
  session.send(
    pdu,
    (resp) => emit('resp', { tag: command.tag, pdu: describe(resp) }),
    () => emit('sent', { tag: command.tag, sequence_number: pdu.sequence_number })
  );
}

onStdinCommands((command) => {
  if (command.cmd === 'connect') connect(command);
  else if (command.cmd === 'send') send(command);
  else if (command.cmd === 'deliver_status') deliverStatus = command.status;
  else if (command.cmd === 'close') session && session.close();
});
process.stdin.on('end', () => {
  if (session) session.destroy();
  process.exit(0);
});
