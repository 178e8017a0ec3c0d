"""PostgreSQL enforces the lot lifecycle (21 CFR 11.10(f): enforced sequencing of steps).

The same table as releases/lifecycle.py TRANSITIONS: a lot is created quarantined;
each change of qc_lot.status must be a step of the lifecycle; a hold records the
state it left and returns only to it (or to rejected).  Neither the admin, a
bug nor raw SQL can skip a step.  tests/releases/test_lifecycle.py checks every
pair of states against releases.lifecycle.
"""

from django.db import migrations

FUNCTION = r"""
CREATE OR REPLACE FUNCTION releases_lot_status_transition() RETURNS trigger AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        IF NEW.status <> 'quarantined' THEN
            RAISE EXCEPTION 'lot lifecycle: lot % must be created quarantined, not %',
                NEW.lot_number, NEW.status USING ERRCODE = 'check_violation';
        END IF;
        RETURN NEW;
    END IF;
    IF NEW.status IS NOT DISTINCT FROM OLD.status THEN
        -- While on hold, new data may only move the return state between testing and
        -- review (an approval is void when the data change); never forward past a step.
        IF NEW.status = 'on_hold'
           AND NEW.status_before_hold IS DISTINCT FROM OLD.status_before_hold
           AND NOT (OLD.status_before_hold IN ('in_testing', 'ready_for_review', 'approved')
                    AND NEW.status_before_hold IN ('in_testing', 'ready_for_review')) THEN
            RAISE EXCEPTION 'lot lifecycle: lot % on hold cannot be set to return to %',
                OLD.lot_number, NEW.status_before_hold USING ERRCODE = 'check_violation';
        END IF;
        RETURN NEW;
    END IF;
    IF NEW.status = 'on_hold' THEN
        IF OLD.status NOT IN ('quarantined', 'in_testing', 'ready_for_review', 'approved',
                              'conditionally_released') THEN
            RAISE EXCEPTION 'lot lifecycle: lot % cannot be put on hold from %',
                OLD.lot_number, OLD.status USING ERRCODE = 'check_violation';
        END IF;
        IF NEW.status_before_hold IS DISTINCT FROM OLD.status THEN
            RAISE EXCEPTION 'lot lifecycle: a hold of lot % must record the state it left (%)',
                OLD.lot_number, OLD.status USING ERRCODE = 'check_violation';
        END IF;
        RETURN NEW;
    END IF;
    IF OLD.status = 'on_hold' THEN
        IF NEW.status = 'rejected' OR NEW.status = OLD.status_before_hold THEN
            RETURN NEW;
        END IF;
        RAISE EXCEPTION 'lot lifecycle: lot % on hold returns only to % (or is rejected), not %',
            OLD.lot_number, OLD.status_before_hold, NEW.status USING ERRCODE = 'check_violation';
    END IF;
    IF (OLD.status, NEW.status) IN (
        ('quarantined', 'in_testing'),
        ('quarantined', 'rejected'),
        ('in_testing', 'ready_for_review'),
        ('in_testing', 'conditionally_released'),
        ('in_testing', 'rejected'),
        ('ready_for_review', 'in_testing'),
        ('ready_for_review', 'approved'),
        ('ready_for_review', 'released'),
        ('ready_for_review', 'rejected'),
        ('approved', 'in_testing'),
        ('approved', 'ready_for_review'),
        ('approved', 'released'),
        ('approved', 'rejected'),
        ('conditionally_released', 'released'),
        ('conditionally_released', 'rejected'),
        ('released', 'rejected')
    ) THEN
        RETURN NEW;
    END IF;
    RAISE EXCEPTION 'lot lifecycle: lot % cannot go from % to %',
        OLD.lot_number, OLD.status, NEW.status USING ERRCODE = 'check_violation';
END;
$$ LANGUAGE plpgsql;

CREATE TRIGGER releases_lot_status_transition
    BEFORE INSERT OR UPDATE OF status, status_before_hold ON qc_lot
    FOR EACH ROW EXECUTE FUNCTION releases_lot_status_transition();
"""

REVERSE = """
DROP TRIGGER IF EXISTS releases_lot_status_transition ON qc_lot;
DROP FUNCTION IF EXISTS releases_lot_status_transition();
"""


class Migration(migrations.Migration):
    dependencies = [
        ("qc", "0003_evaluation_bookkeeping"),
        ("releases", "0002_release_workflow"),
    ]

    operations = [migrations.RunSQL(sql=FUNCTION, reverse_sql=REVERSE)]
