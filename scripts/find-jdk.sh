# Sourced by ./pdserve and ./run-tests: sets JAVA_HOME to a JDK >= 25 or exits 1 with a clear message.
java_major() { "$1/bin/java" -XshowSettings:properties -version 2>&1 | sed -n 's/^ *java.specification.version = \([0-9]*\).*/\1/p'; }
find_jdk25() {
  local candidate major
  for candidate in "${JAVA_HOME:-}" /usr/lib/jvm/*; do
    [ -n "$candidate" ] && [ -x "$candidate/bin/javac" ] || continue
    major=$(java_major "$candidate")
    if [ -n "$major" ] && [ "$major" -ge 25 ]; then JAVA_HOME="$candidate"; export JAVA_HOME; return 0; fi
  done
  echo "pdserve needs a JDK 25 or newer and found none (looked at JAVA_HOME='${JAVA_HOME:-}' and /usr/lib/jvm/*)." >&2
  echo "Install one (for example Temurin 25 into /usr/lib/jvm/temurin-25-jdk-amd64) or point JAVA_HOME at it." >&2
  exit 1
}
find_jdk25
