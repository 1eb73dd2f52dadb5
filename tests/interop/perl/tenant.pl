#!/usr/bin/perl
# Net::SMPP (Debian libnet-smpp-perl) as a tenant of smsswitch: bind transceiver, submit with a
# receipt request, wait for the receipt and answer it, enquire_link, unbind.
# Usage: tenant.pl HOST PORT SYSTEM_ID PASSWORD DESTINATION TEXT [TIMEOUT_SECONDS] [ENQUIRE_FIRST]
# ENQUIRE_FIRST=1: send enquire_link before reading the receipt, after giving it time to
# arrive, so Net::SMPP's synchronous wait drops it unanswered (a quirk real users bring).
# Prints one JSON object per line (step, status, fields) for the Python test to check.
use strict;
use warnings;
use JSON::PP;
use Net::SMPP;

my ($host, $port, $system_id, $password, $destination, $text, $timeout, $enquire_first) = @ARGV;
$timeout ||= 15;
my $json = JSON::PP->new->canonical;
$| = 1;

sub emit { my ($event, %fields) = @_; print $json->encode({ event => $event, %fields }), "\n"; }

# Every blocking read in Net::SMPP waits forever: one alarm bounds the whole conversation.
$SIG{ALRM} = sub { emit('timeout', seconds => $timeout); exit 3; };
alarm $timeout;

my ($smpp, $bind_resp) = Net::SMPP->new_transceiver(
    $host, port => $port, system_id => $system_id, password => $password,
    system_type => '', timeout => 5,
);
if (!defined $smpp) {
    emit('bind', ok => JSON::PP::false, error => "$!");
    exit 1;
}
emit('bind', status => $bind_resp->{status}, system_id => $bind_resp->{system_id});
exit 1 if $bind_resp->{status} != 0;

my $submit_resp = $smpp->submit_sm(
    source_addr_ton => 5, source_addr => 'PERLTEST',
    dest_addr_ton => 1, dest_addr_npi => 1, destination_addr => $destination,
    data_coding => 0, registered_delivery => 1, short_message => $text,
);
emit('submit', status => $submit_resp->{status}, message_id => $submit_resp->{message_id});
exit 1 if $submit_resp->{status} != 0;

# Net::SMPP's synchronous calls drop any other PDU read while they wait for their response,
# so the receipt is normally read here, before the next request.
if ($enquire_first) {
    select(undef, undef, undef, 1.0);
    my $early = $smpp->enquire_link();
    emit('enquire_link_early', status => defined $early ? $early->{status} : undef);
}
while (1) {
    my $pdu = $smpp->read_pdu();
    if (!defined $pdu) { emit('closed', during => 'receipt'); exit 1; }
    if ($pdu->{cmd} == 0x00000015) {    # enquire_link from the server
        $smpp->enquire_link_resp(seq => $pdu->{seq});
        emit('enquire_link_from_server');
        next;
    }
    next if $pdu->{cmd} != 0x00000005;  # deliver_sm
    $smpp->deliver_sm_resp(seq => $pdu->{seq}, message_id => '');
    my $state = $pdu->{message_state};
    emit('deliver_sm',
        esm_class => $pdu->{esm_class},
        data_coding => $pdu->{data_coding},
        source_addr => $pdu->{source_addr},
        destination_addr => $pdu->{destination_addr},
        short_message => $pdu->{short_message},
        receipted_message_id => defined $pdu->{receipted_message_id}
            ? unpack('Z*', $pdu->{receipted_message_id}) : undef,
        message_state => defined $state ? unpack('C', $state) : undef,
    );
    last if $pdu->{esm_class} & 0x04;
}

my $enquire = $smpp->enquire_link();
emit('enquire_link', status => defined $enquire ? $enquire->{status} : undef);
my $unbind = $smpp->unbind();
emit('unbind', status => defined $unbind ? $unbind->{status} : undef);
$smpp->close();
alarm 0;
exit 0;
