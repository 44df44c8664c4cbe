-- One database per service: no service reads another's.
CREATE DATABASE intake;
CREATE DATABASE notifier;
CREATE DATABASE agency_gateway;
CREATE DATABASE compliance;
