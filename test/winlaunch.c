/* winlaunch.c (Windows only): runs a program in a process group of its own, so that the
 * tests can stop the server as Ctrl+Break would, not with TerminateProcess.
 *
 *   winlaunch PROGRAM ARGS...
 *
 * The program shares this launcher's console and standard output and error. Each line
 * "break" on the launcher's standard input sends CTRL_BREAK_EVENT to the program's group
 * alone; the program is in a job that ends with the launcher, so killing the launcher kills
 * it. The launcher exits with the program's exit status. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <windows.h>

/* Appends arg to cmd quoted as CommandLineToArgvW reads it. */
static void append_arg(wchar_t* cmd, size_t cap, const wchar_t* arg) {
  size_t n = wcslen(cmd), slashes = 0;
  const wchar_t* p;
  if (n > 0 && n + 1 < cap) cmd[n++] = L' ';
  if (n + 1 < cap) cmd[n++] = L'"';
  for (p = arg; *p != L'\0' && n + 4 < cap; p++) {
    if (*p == L'\\') {
      slashes++;
    } else {
      if (*p == L'"') {
        while (slashes-- > 0 && n + 4 < cap)
          cmd[n++] = L'\\';
        cmd[n++] = L'\\';
      }
      slashes = 0;
    }
    cmd[n++] = *p;
  }
  while (slashes-- > 0 && n + 2 < cap)
    cmd[n++] = L'\\';
  if (n + 1 < cap) cmd[n++] = L'"';
  cmd[n] = L'\0';
}

int main(void) {
  int argc, i;
  wchar_t** argv = CommandLineToArgvW(GetCommandLineW(), &argc);
  static wchar_t cmd[32768];
  STARTUPINFOW si;
  PROCESS_INFORMATION pi;
  JOBOBJECT_EXTENDED_LIMIT_INFORMATION limits;
  HANDLE job;
  DWORD status = 1;
  char line[64];
  if (argv == NULL || argc < 2) {
    fprintf(stderr, "usage: winlaunch PROGRAM ARGS...\n");
    return 2;
  }
  if (GetConsoleWindow() == NULL) AllocConsole(); /* a console event needs a console */
  cmd[0] = L'\0';
  for (i = 1; i < argc; i++)
    append_arg(cmd, sizeof(cmd) / sizeof(cmd[0]), argv[i]);
  job = CreateJobObjectW(NULL, NULL);
  memset(&limits, 0, sizeof(limits));
  limits.BasicLimitInformation.LimitFlags = JOB_OBJECT_LIMIT_KILL_ON_JOB_CLOSE;
  if (job != NULL)
    SetInformationJobObject(job, JobObjectExtendedLimitInformation, &limits, sizeof(limits));
  memset(&si, 0, sizeof(si));
  si.cb = sizeof(si);
  si.dwFlags = STARTF_USESTDHANDLES;
  si.hStdInput = INVALID_HANDLE_VALUE; /* stdin is the launcher's: the stop channel */
  si.hStdOutput = GetStdHandle(STD_OUTPUT_HANDLE);
  si.hStdError = GetStdHandle(STD_ERROR_HANDLE);
  if (!CreateProcessW(NULL, cmd, NULL, NULL, TRUE, CREATE_NEW_PROCESS_GROUP | CREATE_SUSPENDED,
                      NULL, NULL, &si, &pi)) {
    fprintf(stderr, "winlaunch: cannot start the program: error %lu\n", GetLastError());
    return 1;
  }
  if (job != NULL) AssignProcessToJobObject(job, pi.hProcess);
  ResumeThread(pi.hThread);
  CloseHandle(pi.hThread);
  /* Ignore Ctrl+Break ourselves, in case one reaches the whole console. */
  SetConsoleCtrlHandler(NULL, TRUE);
  while (fgets(line, sizeof(line), stdin) != NULL) {
    if (strncmp(line, "break", 5) == 0 &&
        !GenerateConsoleCtrlEvent(CTRL_BREAK_EVENT, pi.dwProcessId))
      fprintf(stderr, "winlaunch: cannot send Ctrl+Break: error %lu\n", GetLastError());
  }
  /* stdin closed: the test is done with us; wait for the program to end. */
  WaitForSingleObject(pi.hProcess, INFINITE);
  GetExitCodeProcess(pi.hProcess, &status);
  CloseHandle(pi.hProcess);
  return (int)status;
}
