-- One database per role: a member node keeps its private fingerprints apart from everything else,
-- the hub keeps the index, sessions, cases and the transparency log. Schemas are created by the
-- services' migrations (libs/store); this only creates the databases and owners.
CREATE ROLE lineage_hub LOGIN;
CREATE DATABASE lineage_hub OWNER lineage_hub;
CREATE ROLE lineage_member LOGIN;
CREATE DATABASE lineage_member OWNER lineage_member;
