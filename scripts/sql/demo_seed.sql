-- Demo data for scripts/demo.sh: two organisations, their productions, the
-- sample input images (attach rows 39070..39077, one of them a legacy row
-- whose key lives in attach_directory) and four pending jobs. Fixed ids keep
-- the demo's output the same on every run. Apply to an empty schema.

INSERT INTO quel_organization (org_id, org_name, org_credit) VALUES
  ('11111111-1111-4111-8111-111111111111', 'Atelier Lumen (plenty of credits)', 1000),
  ('22222222-2222-4222-8222-222222222222', 'Tiny Studio (3 credits)', 3);

-- One sample image a line: its key is FOLDER/NAME, kept in attach_file_path,
-- or for the legacy row (no attach_file_path) in attach_directory; its type
-- follows the extension.
INSERT INTO quel_attach (attach_id, attach_original_name, attach_file_name,
                         attach_file_path, attach_directory, attach_file_size,
                         attach_file_type, org_id)
SELECT id, name, name,
       CASE WHEN legacy THEN NULL ELSE folder || '/' || name END,
       CASE WHEN legacy THEN folder || '/' || name END,
       size,
       CASE substring(name FROM '[.]([a-z]+)$')
         WHEN 'png' THEN 'image/png' WHEN 'webp' THEN 'image/webp' ELSE 'image/jpeg' END,
       org::uuid
  FROM (VALUES
    (39070, 'model.png', 'inputs/atelier', false, :model_size, '11111111-1111-4111-8111-111111111111'),
    (39071, 'top.jpg', 'inputs/atelier', false, :top_size, '11111111-1111-4111-8111-111111111111'),
    (39072, 'bottom.webp', 'inputs/atelier', false, :bottom_size, '11111111-1111-4111-8111-111111111111'),
    (39073, 'shoes.png', 'inputs/atelier', false, :shoes_size, '11111111-1111-4111-8111-111111111111'),
    (39074, 'bag.jpg', 'inputs/legacy', true, :bag_size, '11111111-1111-4111-8111-111111111111'),
    (39075, 'background.jpg', 'inputs/atelier', false, :background_size,
     '11111111-1111-4111-8111-111111111111'),
    (39076, 'product.png', 'inputs/tiny', false, :product_size, '22222222-2222-4222-8222-222222222222'),
    (39077, 'face.webp', 'inputs/tiny', false, :face_size, '22222222-2222-4222-8222-222222222222')
  ) AS sample (id, name, folder, legacy, size, org);
DO $$ BEGIN PERFORM setval('quel_attach_attach_id_seq', 39099); END $$;

INSERT INTO quel_production_photo (production_id, org_id, attach_ids) VALUES
  ('aaaaaaaa-0000-4000-8000-000000000001', '11111111-1111-4111-8111-111111111111', '[]'),
  ('aaaaaaaa-0000-4000-8000-000000000002', '22222222-2222-4222-8222-222222222222', '[]'),
  -- this production already has two images; they stay first
  ('aaaaaaaa-0000-4000-8000-000000000003', '11111111-1111-4111-8111-111111111111',
   '[39070, 39071]'),
  ('aaaaaaaa-0000-4000-8000-000000000004', '11111111-1111-4111-8111-111111111111', '[]');

INSERT INTO quel_production_jobs (job_id, production_id, org_id, job_type,
                                  job_input_data) VALUES
  -- 1. fashion, two stages of 2 images each; stage 1 uses the legacy bag row
  ('bbbbbbbb-0000-4000-8000-000000000001', 'aaaaaaaa-0000-4000-8000-000000000001',
   '11111111-1111-4111-8111-111111111111', 'pipeline_stage',
   '{"stages": [
      {"stage_index": 0, "prompt": "Full-length studio shot of the model wearing the top and the bottom", "quantity": 2,
       "individualImageAttachIds": [{"attachId": 39070.0, "type": "model"},
                                    {"attachId": 39071, "type": "top"},
                                    {"attachId": "39072", "type": "bottom"}]},
      {"stage_index": 1, "prompt": "Street-style shot of the model with the shoes and the bag", "quantity": 2,
       "individualImageAttachIds": [{"attachId": 39070, "type": "model"},
                                    {"attachId": 39073, "type": "shoes"},
                                    {"attachId": 39074, "type": "bag"}]}],
     "aspectRatio": "3:4"}'),
  -- 2. beauty, single_batch; its module comes from job_input_data.module
  ('bbbbbbbb-0000-4000-8000-000000000002', 'aaaaaaaa-0000-4000-8000-000000000002',
   '22222222-2222-4222-8222-222222222222', 'single_batch',
   '{"module": "beauty", "prompt": "Close-up of the face with the serum, soft daylight",
     "quantity": 2,
     "individualImageAttachIds": [{"attachId": 39077, "type": "face"},
                                  {"attachId": 39076, "type": "product"}],
     "aspectRatio": "1:1"}'),
  -- 3. fashion, stage 1 takes stage 0's image as its model (fromStage)
  ('bbbbbbbb-0000-4000-8000-000000000003', 'aaaaaaaa-0000-4000-8000-000000000003',
   '11111111-1111-4111-8111-111111111111', 'pipeline_stage',
   '{"stages": [
      {"stage_index": 0, "prompt": "The model wearing the top, plain studio backdrop", "quantity": 1,
       "individualImageAttachIds": [{"attachId": 39070, "type": "model"},
                                    {"attachId": 39071, "type": "top"}]},
      {"stage_index": 1, "prompt": "Place the dressed model in the background scene", "quantity": 2,
       "individualImageAttachIds": [{"fromStage": 0, "index": 0, "type": "model"},
                                    {"attachId": 39075, "type": "background"}]}],
     "aspectRatio": "4:5"}'),
  -- 4. invalid: attachId 39070.5 is not a whole number; fails, charges nothing
  ('bbbbbbbb-0000-4000-8000-000000000004', 'aaaaaaaa-0000-4000-8000-000000000004',
   '11111111-1111-4111-8111-111111111111', 'pipeline_stage',
   '{"stages": [
      {"stage_index": 0, "prompt": "This job names a fractional attach id", "quantity": 2,
       "individualImageAttachIds": [{"attachId": 39070.5, "type": "model"}]}]}');
