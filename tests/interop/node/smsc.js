'use strict';
// node-smpp as a carrier SMSC for smsswitch's connectors to bind to.
//
// Usage: node smsc.js '<json options>'   (all optional)
//   port (0 = any free port), system_id, password, throttle_first (answer the first N
//   submit_sm with ESME_RTHROTTLED), receipts (send a receipt when one is requested),
//   receipt_delay_ms, receipt_stat, receipt_tlvs (add receipted_message_id/message_state),
//   id_format ("hex" | "decimal").
// Prints JSON lines: listening, bind, pdu (every request received), submit_resp, deliver_resp.
// Reads JSON commands on stdin: {"cmd": "deliver", "tag": ..., "fields": {...}} sends a
// deliver_sm (MO) on a bound receiving session; {"cmd": "throttle", "count": N}.

const { smpp, emit, describe, keepRawOctets, onStdinCommands, withOctets } = require('./common');

keepRawOctets();

const options = Object.assign(
  {
    port: 0,
    system_id: 'carrier',
    password: 'secret',
    throttle_first: 0,
    receipts: true,
    receipt_delay_ms: 50,
    receipt_stat: 'DELIVRD',
    receipt_tlvs: true,
    id_format: 'hex',
  },
  JSON.parse(process.argv[2] || '{}')
);

const MESSAGE_STATES = { DELIVRD: 2, EXPIRED: 3, DELETED: 4, UNDELIV: 5, ACCEPTD: 6, UNKNOWN: 7, REJECTD: 8 };
let throttleBudget = options.throttle_first;
let nextId = 0x5a000000;
let nextSession = 1;
const receivers = []; // bound sessions that may receive deliver_sm

function smppDate(date) {
  const pad = (n) => String(n).padStart(2, '0');
  return pad(date.getUTCFullYear() % 100) + pad(date.getUTCMonth() + 1) + pad(date.getUTCDate()) +
    pad(date.getUTCHours()) + pad(date.getUTCMinutes());
}

function sendDeliver(session, fields, tag) {
  session.deliver_sm(fields, (resp) => {
    emit('deliver_resp', { tag: tag, session: session.number, command_status: resp.command_status });
  });
}

function sendReceipt(session, messageId, submitted, pdu) {
  const stat = options.receipt_stat;
  const body = 'id:' + messageId + ' sub:001 dlvrd:' + (stat === 'DELIVRD' ? '001' : '000') +
    ' submit date:' + smppDate(submitted) + ' done date:' + smppDate(new Date()) +
    ' stat:' + stat + ' err:' + (stat === 'DELIVRD' ? '000' : '001') + ' text:';
  const fields = {
    source_addr: pdu.destination_addr,
    source_addr_ton: pdu.dest_addr_ton,
    source_addr_npi: pdu.dest_addr_npi,
    destination_addr: pdu.source_addr,
    dest_addr_ton: pdu.source_addr_ton,
    dest_addr_npi: pdu.source_addr_npi,
    esm_class: 0x04,
    data_coding: 0,
    short_message: Buffer.from(body, 'ascii'),
  };
  if (options.receipt_tlvs) {
    fields.receipted_message_id = messageId;
    fields.message_state = MESSAGE_STATES[stat] || 7;
  }
  const target = session.receiving ? session : receivers[0];
  if (!target) {
    emit('receipt_lost', { message_id: messageId });
    return;
  }
  emit('receipt_sent', { message_id: messageId, session: target.number, stat: stat, text: body });
  sendDeliver(target, fields, 'receipt:' + messageId);
}

const server = smpp.createServer((session) => {
  session.number = nextSession++;
  session.on('error', (err) => emit('session_error', { session: session.number, error: String(err) }));
  session.on('close', () => {
    const index = receivers.indexOf(session);
    if (index >= 0) receivers.splice(index, 1);
    emit('closed', { session: session.number });
  });
  for (const command of ['bind_transceiver', 'bind_transmitter', 'bind_receiver']) {
    session.on(command, (pdu) => {
      const ok = pdu.system_id === options.system_id && pdu.password === options.password;
      const status = ok ? 0 : smpp.ESME_RBINDFAIL;
      emit('bind', { session: session.number, command: command, system_id: pdu.system_id,
        interface_version: pdu.interface_version, command_status: status });
      session.send(pdu.response({ command_status: status, system_id: 'nodesmsc' }));
      if (!ok) return session.close();
      session.receiving = command !== 'bind_transmitter';
      if (session.receiving) receivers.push(session);
    });
  }
  session.on('pdu', (pdu) => {
    if (!pdu.isResponse()) emit('pdu', { session: session.number, pdu: describe(pdu) });
  });
  session.on('submit_sm', (pdu) => {
    if (throttleBudget > 0) {
      throttleBudget -= 1;
      emit('submit_resp', { session: session.number, command_status: smpp.ESME_RTHROTTLED });
      return session.send(pdu.response({ command_status: smpp.ESME_RTHROTTLED }));
    }
    const number = nextId++;
    const messageId = options.id_format === 'hex' ? number.toString(16) : String(number);
    emit('submit_resp', { session: session.number, command_status: 0, message_id: messageId });
    session.send(pdu.response({ message_id: messageId }));
    if (options.receipts && (pdu.registered_delivery & 0x03) === 1) {
      const submitted = new Date();
      setTimeout(() => sendReceipt(session, messageId, submitted, pdu), options.receipt_delay_ms);
    }
  });
  session.on('enquire_link', (pdu) => session.send(pdu.response()));
  session.on('unbind', (pdu) => {
    session.send(pdu.response());
    session.close();
  });
});

onStdinCommands((command) => {
  if (command.cmd === 'deliver') {
    const target = receivers[0];
    if (!target) return emit('deliver_lost', { tag: command.tag });
    sendDeliver(target, withOctets(command.fields), command.tag);
  } else if (command.cmd === 'throttle') {
    throttleBudget = command.count;
  } else if (command.cmd === 'enquire_link') {
    const target = receivers[0];
    if (!target) return emit('enquire_link_lost', {});
    target.enquire_link({}, (resp) => emit('enquire_link_resp', { command_status: resp.command_status }));
  }
});
process.stdin.on('end', () => process.exit(0));

server.listen(options.port, '127.0.0.1', () => {
  emit('listening', { port: server.address().port });
});
