/* replay: feeds every file named on the command line, or every regular file of every
 * directory named, to LLVMFuzzerTestOneInput once. Links with a fuzz target in place of
 * libFuzzer, so CTest replays the committed corpus on every build (cmake/UkeyFuzz.cmake).
 * Exit 0 when every input ran (a crash ends the process, which CTest reports), 1 when an
 * input could not be read, 77 when the corpus is empty. */
#define _GNU_SOURCE
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int run_file(const char *path, unsigned long *count)
{
	FILE *f = fopen(path, "rb");
	uint8_t *buf = NULL;
	long n;
	int rc = 1;

	if (f == NULL) {
		perror(path);
		return 1;
	}
	if (fseek(f, 0, SEEK_END) != 0 || (n = ftell(f)) < 0 || fseek(f, 0, SEEK_SET) != 0)
		goto out;
	/* an exact-size heap copy, so ASan sees reads past the input's end */
	buf = malloc(n > 0 ? (size_t)n : 1);
	if (buf == NULL || (n > 0 && fread(buf, 1, (size_t)n, f) != (size_t)n))
		goto out;
	LLVMFuzzerTestOneInput(buf, (size_t)n);
	(*count)++;
	rc = 0;
out:
	if (rc != 0)
		fprintf(stderr, "replay: cannot read %s\n", path);
	free(buf);
	fclose(f);
	return rc;
}

static int run_dir(const char *dir, unsigned long *count)
{
	struct dirent **ents = NULL;
	char path[4096];
	struct stat st;
	int n, i, rc = 0;

	n = scandir(dir, &ents, NULL, alphasort);
	if (n < 0) {
		perror(dir);
		return 1;
	}
	for (i = 0; i < n; i++) {
		if (ents[i]->d_name[0] != '.' &&
		    snprintf(path, sizeof(path), "%s/%s", dir, ents[i]->d_name) < (int)sizeof(path) &&
		    stat(path, &st) == 0 && S_ISREG(st.st_mode))
			rc |= run_file(path, count);
		free(ents[i]);
	}
	free(ents);
	return rc;
}

int main(int argc, char **argv)
{
	unsigned long count = 0;
	struct stat st;
	int i, rc = 0;

	for (i = 1; i < argc; i++) {
		if (stat(argv[i], &st) == 0 && S_ISDIR(st.st_mode))
			rc |= run_dir(argv[i], &count);
		else
			rc |= run_file(argv[i], &count);
	}
	printf("replay: %lu inputs\n", count);
	if (rc == 0 && count == 0)
		return 77;
	return rc;
}
