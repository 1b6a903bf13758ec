SELECT aria_data.disable_tenant_isolation('aria_auth.peer_room_members');
SELECT aria_data.disable_tenant_isolation('aria_auth.peer_rooms');
DROP TABLE peer_room_members;
DROP TABLE peer_rooms;
