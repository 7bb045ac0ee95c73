/* list.h: an intrusive doubly linked list, embedded in the structs it links.
 *
 * A node that is not on a list has NULL links, so a double unlink or a double insert trips
 * an assertion at once instead of corrupting memory (the h2o habit). Nodes must start
 * zeroed (calloc or = {0}).
 */
#ifndef UVCHAT_LIST_H
#define UVCHAT_LIST_H

#include <assert.h>
#include <stddef.h>

typedef struct uvc_list {
  struct uvc_list* prev;
  struct uvc_list* next;
} uvc_list_t;

#define UVC_CONTAINER_OF(ptr, type, member) ((type*)((char*)(ptr)-offsetof(type, member)))

static inline void uvc_list_init(uvc_list_t* head) {
  head->prev = head->next = head;
}
static inline int uvc_list_empty(const uvc_list_t* head) {
  return head->next == head;
}
static inline int uvc_list_is_linked(const uvc_list_t* node) {
  return node->next != NULL;
}

/* Links node at the tail of the list whose head is `head`. The node must not be linked. */
static inline void uvc_list_insert_tail(uvc_list_t* head, uvc_list_t* node) {
  assert(!uvc_list_is_linked(node));
  node->prev = head->prev;
  node->next = head;
  head->prev->next = node;
  head->prev = node;
}

/* Unlinks node and clears its links. The node must be linked. */
static inline void uvc_list_remove(uvc_list_t* node) {
  assert(uvc_list_is_linked(node));
  node->prev->next = node->next;
  node->next->prev = node->prev;
  node->prev = node->next = NULL;
}

#endif
