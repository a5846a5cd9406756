/* ukey token: RENAME (proprietary 84 E2, docs/apdu.md "RENAME CONTAINER / RENAME FILE").
 * GM/T 0016 has no rename function and ISO 7816-9 none for a container; the instruction
 * exists so that PKCS#11 C_SetAttributeValue can change CKA_LABEL (the container name of
 * key and certificate objects, the data file name of data objects). The dispatcher
 * (ukt_card.c) has checked secure messaging, P1 P2 and the user PIN of the session. A
 * refused command changes nothing; an accepted one is durable before its answer. */
#include "ukt_internal.h"
#include "ukt_files.h"

#include <string.h>

#include "uk_tlv.h"

/* Payload: exactly tag_a then tag_b, in that order, nothing after. 0 or -1. */
static int two_tlvs(const ukt_cmd *c, unsigned tag_a, uk_tlv *a, unsigned tag_b, uk_tlv *b)
{
	const uint8_t *p = c->data, *end = c->data + c->len;

	if (uk_tlv_next(&p, end, a) != 1 || a->tag != tag_a)
		return -1;
	if (uk_tlv_next(&p, end, b) != 1 || b->tag != tag_b)
		return -1;
	return p == end ? 0 : -1;
}

/* Another present container than idx already has this name. */
static int container_name_taken(const ukt_state *st, unsigned idx, const uk_tlv *name)
{
	unsigned i;

	for (i = 0; i < UKT_MAX_CONTAINERS; i++)
		if (i != idx && st->cont[i].present && st->cont[i].name_len == name->len &&
		    memcmp(st->cont[i].name, name->value, name->len) == 0)
			return 1;
	return 0;
}

/* RENAME CONTAINER (P1 00): 80 01 <index>, 81 <name 1-64>. 6A80 malformed, 6A88 no such
 * container, 6A89 the name is another container's; the same name is 9000 with no write.
 * One atomic state write (ukt_state_commit): the name is part of the state. */
static uint16_t rename_container(ukt_card *card, ukt_cmd *c)
{
	ukt_container *cont;
	ukt_state next;
	uk_tlv idx, name;
	uint16_t sw;

	if (two_tlvs(c, 0x80, &idx, 0x81, &name) != 0 || idx.len != 1 ||
	    idx.value[0] >= UKT_MAX_CONTAINERS || name.len == 0 || name.len > UKT_NAME_MAX)
		return UK_SW_WRONG_DATA;
	cont = &card->st.cont[idx.value[0]];
	if (!cont->present)
		return UK_SW_REF_NOT_FOUND;
	if (cont->name_len == name.len && memcmp(cont->name, name.value, name.len) == 0)
		return UK_SW_OK;
	if (container_name_taken(&card->st, idx.value[0], &name))
		return UK_SW_ALREADY_EXISTS;
	memcpy(&next, &card->st, sizeof(next));
	cont = &next.cont[idx.value[0]];
	memset(cont->name, 0, sizeof(cont->name));
	memcpy(cont->name, name.value, name.len);
	cont->name_len = (uint8_t)name.len;
	sw = ukt_state_commit(card, &next);
	ukt_state_wipe(&next);
	return sw;
}

/* RENAME FILE (P1 01): 83 02 <fid D0 nn>, 84 <name 1-32> (ukt_files_rename). */
static uint16_t rename_file(ukt_card *card, ukt_cmd *c)
{
	uk_tlv fid, name;

	if (two_tlvs(c, 0x83, &fid, 0x84, &name) != 0 || fid.len != 2)
		return UK_SW_WRONG_DATA;
	return ukt_files_rename(card, uk_get_u16(fid.value), name.value, name.len);
}

uint16_t ukt_cmd_rename_any(ukt_card *card, ukt_cmd *c)
{
	return c->apdu->p1 == 0x00 ? rename_container(card, c) : rename_file(card, c);
}
