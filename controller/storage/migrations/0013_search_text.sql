-- What a text search looks in, written when a request is stored: its id, order id, customer name and id,
-- and SKUs, lower-cased and separated by a unit separator (so that no match spans two of them). Searching
-- one column instead of reading each order's JSON keeps a search of 10,000 pending requests fast.
ALTER TABLE approval_requests ADD COLUMN search_text TEXT;

CREATE TRIGGER approval_requests_search_text AFTER INSERT ON approval_requests
BEGIN
    UPDATE approval_requests SET search_text = lower(
        NEW.id
        || char(31) || COALESCE(json_extract(NEW.order_json, '$.order_id'), '')
        || char(31) || COALESCE(json_extract(NEW.order_json, '$.customer.name'), '')
        || char(31) || COALESCE(json_extract(NEW.order_json, '$.customer.id'), '')
        || char(31) || COALESCE((SELECT group_concat(json_extract(value, '$.sku'), char(31))
                                 FROM json_each(NEW.order_json, '$.items') WHERE type = 'object'), '')
    ) WHERE id = NEW.id;
END;

-- Requests stored before this version.
UPDATE approval_requests SET search_text = lower(
    id
    || char(31) || COALESCE(json_extract(order_json, '$.order_id'), '')
    || char(31) || COALESCE(json_extract(order_json, '$.customer.name'), '')
    || char(31) || COALESCE(json_extract(order_json, '$.customer.id'), '')
    || char(31) || COALESCE((SELECT group_concat(json_extract(value, '$.sku'), char(31))
                             FROM json_each(order_json, '$.items') WHERE type = 'object'), '')
);
