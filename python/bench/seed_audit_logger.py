# The audit-logger skill's reference AuditLogger, as printed in the skill
# specification (section 12), with only its broken string literals mended
# ("\n" printed as line breaks). Kept to measure against and to run its own
# self-test with the import swapped; not part of the package.
import os
import sys
import json
import time
import string
import random
from pathlib import Path
from datetime import datetime, timezone, timedelta

# Windows-specific file locking
if sys.platform == "win32":
    import msvcrt
else:
    # fcntl is for Linux/macOS. This makes the module importable
    # on other platforms, but locking will fail.
    msvcrt = None 

from dotenv import load_dotenv

load_dotenv()

class AuditLogger:
    def __init__(self, vault_path: str | Path, dry_run: bool = False, session_id: str | None = None):
        if not vault_path:
            raise ValueError("VAULT_PATH cannot be empty.")
            
        self.vault_path = Path(vault_path)
        self.logs_dir = self.vault_path / "Logs"
        self.dry_run = dry_run
        
        self.session_id = session_id or self._generate_session_id()
        self.log_schema_keys = {
            "timestamp", "log_level", "action_type", "actor", "target", 
            "parameters", "approval_status", "approved_by", "dry_run", 
            "result", "error_message", "session_id"
        }
        
        self.logs_dir.mkdir(exist_ok=True)

    @staticmethod
    def _generate_session_id():
        rand_chars = ''.join(random.choices(string.ascii_uppercase + string.digits, k=6))
        return f"AI_EMP_{datetime.now(timezone.utc).strftime('%Y%m%d')}_{rand_chars}"

    def _validate_schema(self, entry: dict) -> bool:
        """Validates the log entry against the required schema."""
        return self.log_schema_keys == set(entry.keys())

    def _lock_file(self, file_handle):
        if not msvcrt: return
        for _ in range(3):
            try:
                msvcrt.locking(file_handle.fileno(), msvcrt.LK_NBLCK, 1)
                return
            except IOError:
                time.sleep(random.uniform(0.1, 0.5))
        raise IOError("Could not acquire file lock after 3 retries.")

    def _unlock_file(self, file_handle):
        if not msvcrt: return
        msvcrt.locking(file_handle.fileno(), msvcrt.LK_UNLCK, 1)

    def log(self, entry: dict) -> bool:
        """Logs a single entry to the appropriate daily log file."""
        if "session_id" not in entry:
            entry["session_id"] = self.session_id
        if "timestamp" not in entry:
            entry["timestamp"] = datetime.now(timezone.utc).isoformat()

        if not self._validate_schema(entry):
            print("ERROR: Log entry failed schema validation.", file=sys.stderr)
            return False

        if self.dry_run:
            print(f"[DRY_RUN] Log Entry: {json.dumps(entry)}")
            return True

        today_str = datetime.now(timezone.utc).strftime('%Y-%m-%d')
        log_file_path = self.logs_dir / f"{today_str}.json"

        try:
            with open(log_file_path, 'a+') as f:
                self._lock_file(f)
                f.seek(0)
                try:
                    data = json.load(f)
                except (json.JSONDecodeError, FileNotFoundError):
                    data = {
                        "date": today_str,
                        "total_entries": 0,
                        "summary": {"INFO": 0, "WARNING": 0, "ERROR": 0, "CRITICAL": 0},
                        "entries": []
                    }
                
                data["entries"].append(entry)
                data["total_entries"] += 1
                if entry["log_level"] in data["summary"]:
                    data["summary"][entry["log_level"]] += 1
                
                f.seek(0)
                f.truncate()
                json.dump(data, f, indent=2)
                self._unlock_file(f)

        except IOError as e:
            print(f"CRITICAL: File lock failed. Writing to fallback log. Error: {e}", file=sys.stderr)
            fallback_path = self.logs_dir / "failed_writes.json"
            with open(fallback_path, "a") as ff:
                json.dump(entry, ff)
                ff.write("\n")
            return False
        
        # Post-write actions
        self._update_index()
        self._update_dashboard(entry)
        self.rotate_logs()
        return True

    def _update_index(self):
        """Updates the master log index."""
        index_path = self.logs_dir / "index.json"
        log_files_info = []
        total_entries_all_time = 0
        
        all_logs = sorted(self.logs_dir.glob("*.json"), key=lambda p: p.name)
        # Exclude special files from the main index logic
        all_logs = [p for p in all_logs if p.name not in ["index.json", "failed_writes.json", "critical_archive.json"]]

        if not all_logs:
            index_path.write_text("{}", 'utf-8')
            return

        for log_path in all_logs:
            try:
                with open(log_path, 'r') as f:
                    log_data = json.load(f)
                    entry_count = log_data.get("total_entries", 0)
                    total_entries_all_time += entry_count
                    log_files_info.append({
                        "date": log_data.get("date"),
                        "file": log_path.name,
                        "entry_count": entry_count,
                        "size_bytes": log_path.stat().st_size
                    })
            except (json.JSONDecodeError, FileNotFoundError):
                continue
        
        index_data = {
            "last_updated": datetime.now(timezone.utc).isoformat(),
            "total_log_files": len(log_files_info),
            "oldest_log": log_files_info[0]["date"] if log_files_info else None,
            "newest_log": log_files_info[-1]["date"] if log_files_info else None,
            "total_entries_all_time": total_entries_all_time,
            "log_files": log_files_info
        }
        index_path.write_text(json.dumps(index_data, indent=2), 'utf-8')

    def _update_dashboard(self, latest_entry: dict):
        """Updates the Recent Activity section of Dashboard.md."""
        dashboard_path = self.vault_path / "Dashboard.md"
        if not dashboard_path.exists(): return

        content = dashboard_path.read_text('utf-8')
        
        # Extract last 10 entries from today's log
        today_str = datetime.now(timezone.utc).strftime('%Y-%m-%d')
        log_file_path = self.logs_dir / f"{today_str}.json"
        
        try:
            log_data = json.loads(log_file_path.read_text('utf-8'))
            last_10 = log_data.get("entries", [])[-10:]
        except (FileNotFoundError, json.JSONDecodeError):
            last_10 = [latest_entry]

        # Build new markdown table
        new_table = "## Recent Activity\n| Time | Action | Actor | Result |\n|------|--------|-------|--------|\n"
        for entry in reversed(last_10):
            ts = datetime.fromisoformat(entry['timestamp']).strftime('%H:%M:%S')
            new_table += f"| {ts} | {entry['action_type']} | {entry['actor']} | {entry['result']} |\n"

        # Replace the old table in the dashboard content
        # This regex finds the "## Recent Activity" header and everything until the next header or end of file
        import re
        content = re.sub(r"(?s)(^## Recent Activity\n).*?(?=\n## |$)", new_table, content, count=1, flags=re.MULTILINE)

        dashboard_path.write_text(content, 'utf-8')

    def rotate_logs(self) -> int:
        """Deletes logs older than 90 days."""
        if self.dry_run: return 0
        
        ninety_days_ago = datetime.now(timezone.utc) - timedelta(days=90)
        deleted_count = 0
        
        for log_path in self.logs_dir.glob("????-??-??.json"):
            try:
                log_date_str = log_path.stem
                log_date = datetime.strptime(log_date_str, '%Y-%m-%d').replace(tzinfo=timezone.utc)
                
                if log_date < ninety_days_ago:
                    self.log({
                        "timestamp": datetime.now(timezone.utc).isoformat(), "log_level": "INFO",
                        "action_type": "log_retention", "actor": "audit_logger",
                        "target": log_path.name, "parameters": {"retention_days": 90},
                        "approval_status": "not_required", "approved_by": "system",
                        "dry_run": self.dry_run, "result": "success", "error_message": None,
                        "session_id": self.session_id
                    })
                    
                    # Handle critical log archival
                    log_data = json.loads(log_path.read_text('utf-8'))
                    if log_data.get("summary", {}).get("CRITICAL", 0) > 0:
                        archive_path = self.logs_dir / "critical_archive.json"
                        critical_entries = [e for e in log_data.get("entries", []) if e['log_level'] == 'CRITICAL']
                        with open(archive_path, 'a') as f:
                            for entry in critical_entries:
                                json.dump(entry, f)
                                f.write('\n')
                    
                    log_path.unlink() # Delete the file
                    deleted_count += 1
                    
            except (ValueError, FileNotFoundError, json.JSONDecodeError):
                continue
        
        if deleted_count > 0:
            self._update_index() # Re-run index after deletions
        
        return deleted_count

# Standalone execution for testing
if __name__ == "__main__":
    print("AuditLogger Module - Running Standalone Test")
    
    # Requires a .env file with VAULT_PATH pointing to a test directory
    test_vault_path = os.getenv("VAULT_PATH")
    if not test_vault_path:
        raise ValueError("Please set VAULT_PATH in your .env file for testing.")

    # Test with DRY_RUN = False to see file writes
    is_dry_run = os.getenv("DRY_RUN", "true").lower() == "true"
    print(f"Test DRY_RUN mode: {is_dry_run}")

    logger = AuditLogger(vault_path=test_vault_path, dry_run=is_dry_run)

    test_entry = {
      "timestamp": datetime.now(timezone.utc).isoformat(),
      "log_level": "INFO",
      "action_type": "system_event",
      "actor": "audit_logger_test",
      "target": "self_test",
      "parameters": {"test_id": 123},
      "approval_status": "not_required",
      "approved_by": "N/A",
      "dry_run": is_dry_run,
      "result": "success",
      "error_message": None,
      "session_id": logger.session_id
    }
    
    success = logger.log(test_entry)
    if success:
        print("Test log written successfully.")
    else:
        print("Test log failed to write.")

    if not is_dry_run:
        print("Running retention policy check...")
        deleted = logger.rotate_logs()
        print(f"Deleted {deleted} old log file(s).")
