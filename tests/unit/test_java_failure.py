"""A Java tool that fails (Kafka's storage format) is reported by the line naming its error,
not by the last frame of its stack trace."""

from shared.kafka.local_broker import java_failure

STORAGE_TOOL = """\
Exception in thread "main" java.lang.IllegalArgumentException: requirement failed: Each listener must have a different port, listeners: SASL_PLAINTEXT://127.0.0.1:31384,PLAINTEXT://127.0.0.1:31385,CONTROLLER://127.0.0.1:31385
\tat scala.Predef$.require(Predef.scala:337)
\tat kafka.server.KafkaConfig.validateValues(KafkaConfig.scala:1046)
\tat kafka.tools.StorageTool.main(StorageTool.scala)
"""


def test_the_exception_line_is_the_reason_not_the_last_stack_frame():
    assert java_failure(STORAGE_TOOL).startswith(
        'Exception in thread "main" java.lang.IllegalArgumentException: requirement failed: Each listener')


def test_output_without_an_error_line_gives_its_last_line_and_no_output_says_so():
    assert java_failure("starting\nformatting\nstopped unexpectedly\n") == "stopped unexpectedly"
    assert java_failure("") == "no output"
