-- The category the citizen chose (web API, Open311 service_code): Open311 reads it back as the service.
ALTER TABLE complaint_status ADD COLUMN category text;
